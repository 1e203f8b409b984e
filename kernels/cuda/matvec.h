// Matrix-vector and small-batch products over weights in any format of the table: y [n, w.rows]
// = x [n, w.cols] w^T, fp32 activations, weights decoded in registers, fp32 accumulation. One
// warp per weight row reads the row once per tile of up to kMatvecTile tokens, so batches up to
// kMaxMatvecBatch cost little more weight traffic than one token. Larger batches belong to
// gemm.h (dense) or run as several calls.
#ifndef GHOST_KERNELS_CUDA_MATVEC_H_
#define GHOST_KERNELS_CUDA_MATVEC_H_

#include <cstddef>

#include "absl/status/status.h"
#include "kernels/cuda/cuda_memory.h"
#include "kernels/cuda/device_weights.h"

namespace ghost::kernels::cuda {

inline constexpr std::size_t kMaxMatvecBatch = 64;
inline constexpr std::size_t kMatvecTile = 8;

// x, y: device rows. INVALID_ARGUMENT for n > kMaxMatvecBatch.
absl::Status Matvec(const float* x, std::size_t n, const DeviceWeights& w, float* y,
                    StreamHandle stream);

}  // namespace ghost::kernels::cuda

#endif  // GHOST_KERNELS_CUDA_MATVEC_H_
