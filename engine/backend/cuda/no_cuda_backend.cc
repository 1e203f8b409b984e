// The CUDA backend's entry points in a build without nvcc: every CUDA model fails to load with
// an error that says why, and build information reports no CUDA.
#include "absl/status/status.h"
#include "engine/backend/cuda/cuda_backend.h"
#include "engine/backend/device_info.h"

namespace ghost {

absl::StatusOr<std::shared_ptr<Backend>> NewCudaBackend(int device_index) {
  return absl::FailedPreconditionError(
      "device cuda: this server was built without CUDA (nvcc was not found at build time); "
      "load the model with device cpu");
}

std::string CudaRuntimeLabel() { return "none"; }
std::string CudaDeviceLabel() { return "none"; }

}  // namespace ghost
