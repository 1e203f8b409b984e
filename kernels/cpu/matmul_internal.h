// Internal to kernels/cpu: the per-ISA entry points that dispatch.cc chooses between.
// Each computes output columns [0, rows) for the weight rows starting at w, writing
// y[t * ldy + r], so that the thread pool can hand disjoint row ranges to each variant.
#ifndef GHOST_KERNELS_CPU_MATMUL_INTERNAL_H_
#define GHOST_KERNELS_CPU_MATMUL_INTERNAL_H_

#include <cstddef>
#include <cstdint>

namespace ghost::kernels::internal {

using MatMulF32RowsFn = void (*)(const float* x, std::size_t n, const float* w, std::size_t rows,
                                 std::size_t cols, float* y, std::size_t ldy);
// bf16 and fp16 weights alike: raw 16-bit patterns.
using MatMulBf16RowsFn = void (*)(const float* x, std::size_t n, const std::uint16_t* w,
                                  std::size_t rows, std::size_t cols, float* y, std::size_t ldy);
using MatMulF16RowsFn = MatMulBf16RowsFn;

void MatMulF32Scalar(const float* x, std::size_t n, const float* w, std::size_t rows,
                     std::size_t cols, float* y, std::size_t ldy);
void MatMulBf16Scalar(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
                      std::size_t cols, float* y, std::size_t ldy);
void MatMulF16Scalar(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
                     std::size_t cols, float* y, std::size_t ldy);

void MatMulF32Avx2(const float* x, std::size_t n, const float* w, std::size_t rows,
                   std::size_t cols, float* y, std::size_t ldy);
void MatMulBf16Avx2(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
                    std::size_t cols, float* y, std::size_t ldy);
void MatMulF16Avx2(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
                   std::size_t cols, float* y, std::size_t ldy);

void MatMulF32Avx512(const float* x, std::size_t n, const float* w, std::size_t rows,
                     std::size_t cols, float* y, std::size_t ldy);
void MatMulBf16Avx512(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
                      std::size_t cols, float* y, std::size_t ldy);
void MatMulF16Avx512(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
                     std::size_t cols, float* y, std::size_t ldy);

}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_MATMUL_INTERNAL_H_
