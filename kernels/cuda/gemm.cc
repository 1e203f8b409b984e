#include "kernels/cuda/gemm.h"

#include <cstdint>

#include "kernels/cuda/blas_library.h"
#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/elementwise.h"

namespace ghost::kernels::cuda {

absl::Status DenseGemm(const float* x, std::size_t n, const DeviceWeights& w, float* y,
                       const BlasHandle& blas, DeviceBuffer& scratch, StreamHandle stream) {
  if (IsBlockQuantized(w.format)) {
    return absl::InvalidArgumentError("DenseGemm takes f32, bf16 or f16 weights");
  }
  if (n == 0 || w.rows == 0) return absl::OkStatus();
  if (w.cols == 0) return ZeroOnDevice(y, n * w.rows * sizeof(float), stream);
  const void* activations = x;
  cudaDataType_t type = CUDA_R_32F;
  if (w.format != WeightFormat::kF32) {
    if (absl::Status s = Reserve(scratch, n * w.cols * sizeof(std::uint16_t)); !s.ok()) return s;
    auto* converted = scratch.as<std::uint16_t>();
    const absl::Status s = w.format == WeightFormat::kBF16
                               ? ConvertToBf16(x, n * w.cols, converted, stream)
                               : ConvertToF16(x, n * w.cols, converted, stream);
    if (!s.ok()) return s;
    activations = converted;
    type = w.format == WeightFormat::kBF16 ? CUDA_R_16BF : CUDA_R_16F;
  }
  // Column-major view: w (row-major [rows, cols]) is a [cols, rows] matrix with ld = cols, x a
  // [cols, n] one, y a [rows, n] one; y = w^T x.
  const float alpha = 1.0f;
  const float beta = 0.0f;
  GHOST_CUBLAS_RETURN_IF_ERROR(internal::BlasIfOpen()->gemm_ex(
      blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(w.rows), static_cast<int>(n),
      static_cast<int>(w.cols), &alpha, w.data, type, static_cast<int>(w.cols), activations, type,
      static_cast<int>(w.cols), &beta, y, CUDA_R_32F, static_cast<int>(w.rows), CUBLAS_COMPUTE_32F,
      CUBLAS_GEMM_DEFAULT));
  return absl::OkStatus();
}

}  // namespace ghost::kernels::cuda
