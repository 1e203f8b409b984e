// The row-packed sparse MLP on the device (DESIGN.md; CPU: kernels/cpu/sparse_mlp.h): for each
// token t, out[t] = sum over neurons j with h[t, j] != 0 of h[t, j] * (up[j] . x[t]) *
// down_t[j]. A neuron that no token of a group of up to 64 tokens needs is skipped:
// neither its up row nor its down_t row is read. up and down_t are [inner, hidden] in any
// format; the sum over neurons runs in fixed chunks added in a fixed order, so results do not
// depend on scheduling.
#ifndef GHOST_KERNELS_CUDA_SPARSE_MLP_H_
#define GHOST_KERNELS_CUDA_SPARSE_MLP_H_

#include <cstddef>

#include "absl/status/status.h"
#include "kernels/cuda/cuda_memory.h"
#include "kernels/cuda/device_weights.h"

namespace ghost::kernels::cuda {

// x, out [n, hidden], h [n, inner] in device memory; `scratch` is grown as needed.
absl::Status SparseMlp(const float* x, const float* h, std::size_t n, std::size_t hidden,
                       std::size_t inner, const DeviceWeights& up, const DeviceWeights& down_t,
                       float* out, DeviceBuffer& scratch, StreamHandle stream);

}  // namespace ghost::kernels::cuda

#endif  // GHOST_KERNELS_CUDA_SPARSE_MLP_H_
