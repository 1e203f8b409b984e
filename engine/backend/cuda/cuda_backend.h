// The CUDA backend: weights resident in device memory (each weight unit one device allocation in
// the kernels' layout, kernels/cuda/device_weights.h), activations and the KV cache's blocks in
// device memory, every op on kernels/cuda. Ops are issued asynchronously on a stream of the
// calling thread (one "lane" per thread: stream, cuBLAS handle, scratch); HostRows, Logits and
// SiluGate's count wait for it, and HostRows and Logits report the first device error since the
// last such call (backend.h). Host->device traffic in a step: token ids, rope tables, the step's
// block tables (once per step, not per layer); device->host: logits and gate counts.
//
// Under a weight budget (device memory), streamed layers' bytes live in pinned host memory and are
// copied into device slots on a copy stream of their own, ordered against the computing lane's
// stream by an event per slot (cuda_layer_transport.cc); a streamed step adds host->device copies
// only.
#ifndef GHOST_ENGINE_BACKEND_CUDA_CUDA_BACKEND_H_
#define GHOST_ENGINE_BACKEND_CUDA_CUDA_BACKEND_H_

#include <memory>

#include "absl/status/statusor.h"
#include "engine/backend/backend.h"

namespace ghost {

// A backend on CUDA device `device_index`. FAILED_PRECONDITION naming the cause when this build
// has no CUDA, the machine has no usable device (no driver, no GPU, an index past the last), or
// the device cannot be initialised; the caller's other models are unaffected.
absl::StatusOr<std::shared_ptr<Backend>> NewCudaBackend(int device_index);

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_CUDA_CUDA_BACKEND_H_
