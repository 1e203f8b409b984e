// Dense products through cuBLAS (cublasGemmEx, fp32 accumulation): y [n, w.rows] = x [n, w.cols]
// w^T for f32, bf16 and f16 weights. fp32 weights multiply fp32 activations exactly as stored
// (no TF32); 16-bit weights need 16-bit activations, so x is rounded to the
// weight's type first (into `scratch`, grown as needed). For the prefill-sized batches that
// Matvec (matvec.h) does not take.
#ifndef GHOST_KERNELS_CUDA_GEMM_H_
#define GHOST_KERNELS_CUDA_GEMM_H_

#include <cstddef>

#include "absl/status/status.h"
#include "kernels/cuda/cuda_memory.h"
#include "kernels/cuda/device_weights.h"

namespace ghost::kernels::cuda {

// INVALID_ARGUMENT for a block-quantized w. `blas` is bound to the stream the work runs on.
absl::Status DenseGemm(const float* x, std::size_t n, const DeviceWeights& w, float* y,
                       const BlasHandle& blas, DeviceBuffer& scratch, StreamHandle stream);

}  // namespace ghost::kernels::cuda

#endif  // GHOST_KERNELS_CUDA_GEMM_H_
