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

// AMX bf16 (matmul_bf16_amx.cc; call only where AmxEnabled(), with cols a multiple of 32).
// The activations x [n, cols] split into three bf16 terms each (x = t0 + t1 + t2, so that
// the product keeps fp32 activations' precision) and laid out as tdpbf16ps's B operand: per
// term, per tile of 16 tokens and 32 columns, 16 rows of (16 tokens x a column pair); tokens
// past n are zeros. AmxBf16ActivationValues uint16 values, 64-byte aligned.
std::size_t AmxBf16ActivationValues(std::size_t n, std::size_t cols);
void PackBf16ActivationsAmx(const float* x, std::size_t n, std::size_t cols, std::uint16_t* out);
// As MatMulBf16RowsFn, from the packed activations.
void MatMulBf16Amx(const std::uint16_t* x_packed, std::size_t n, const std::uint16_t* w,
                   std::size_t rows, std::size_t cols, float* y, std::size_t ldy);

}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_MATMUL_INTERNAL_H_
