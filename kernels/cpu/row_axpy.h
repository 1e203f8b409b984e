// Internal to kernels/cpu: out += a * row for fp32, bf16 and fp16 rows.
// row_axpy_{scalar,avx2,avx512}.cc compile them once per ISA. The fp32 and bf16 column loops
// are plain C++ that GCC vectorizes; fp16's widening is not vectorized by GCC 12 (it emits
// one vcvtph2ps per value), so each ISA file supplies its own fp16 column loops.
#ifndef GHOST_KERNELS_CPU_ROW_AXPY_H_
#define GHOST_KERNELS_CPU_ROW_AXPY_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/prefetch.h"

namespace ghost::kernels::internal {

// out[c] += coefs[i] * rows[i][c] for c < cols, summed over i < count, where rows[i] is
// w + index[i] * cols.
using AxpyF32RowsFn = void (*)(const float* w, const std::uint32_t* index, const float* coefs,
                               std::size_t count, std::size_t cols, float* out);
// bf16 and fp16 rows alike: raw 16-bit patterns.
using AxpyBf16RowsFn = void (*)(const std::uint16_t* w, const std::uint32_t* index,
                                const float* coefs, std::size_t count, std::size_t cols,
                                float* out);
using AxpyF16RowsFn = AxpyBf16RowsFn;

void AxpyF32RowsScalar(const float*, const std::uint32_t*, const float*, std::size_t, std::size_t,
                       float*);
void AxpyBf16RowsScalar(const std::uint16_t*, const std::uint32_t*, const float*, std::size_t,
                        std::size_t, float*);
void AxpyF16RowsScalar(const std::uint16_t*, const std::uint32_t*, const float*, std::size_t,
                       std::size_t, float*);
void AxpyF32RowsAvx2(const float*, const std::uint32_t*, const float*, std::size_t, std::size_t,
                     float*);
void AxpyBf16RowsAvx2(const std::uint16_t*, const std::uint32_t*, const float*, std::size_t,
                      std::size_t, float*);
void AxpyF16RowsAvx2(const std::uint16_t*, const std::uint32_t*, const float*, std::size_t,
                     std::size_t, float*);
void AxpyF32RowsAvx512(const float*, const std::uint32_t*, const float*, std::size_t, std::size_t,
                       float*);
void AxpyBf16RowsAvx512(const std::uint16_t*, const std::uint32_t*, const float*, std::size_t,
                        std::size_t, float*);
void AxpyF16RowsAvx512(const std::uint16_t*, const std::uint32_t*, const float*, std::size_t,
                       std::size_t, float*);

namespace {  // Internal linkage: each ISA file gets its own copy.

inline float WidenF32(float v) { return v; }
inline float WidenBf16(std::uint16_t v) {
  const std::uint32_t bits = std::uint32_t{v} << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// A row format for AxpyRows: the stored element type, and the column loops over two rows
// (Add2) and one (Add1). These are plain loops around Widen; a format (bf16 and fp16 share
// uint16_t, so the format, not the element type, says how to widen) can supply its own.
template <typename Element, float (*Widen)(Element)>
struct PlainRows {
  using Weight = Element;
  static void Add2(const Element* __restrict a, const Element* __restrict b, float ca, float cb,
                   std::size_t cols, float* __restrict out) {
    for (std::size_t c = 0; c < cols; ++c) out[c] += ca * Widen(a[c]) + cb * Widen(b[c]);
  }
  static void Add1(const Element* __restrict a, float ca, std::size_t cols, float* __restrict out) {
    for (std::size_t c = 0; c < cols; ++c) out[c] += ca * Widen(a[c]);
  }
};
using F32Rows = PlainRows<float, WidenF32>;
using Bf16Rows = PlainRows<std::uint16_t, WidenBf16>;

// Two rows per pass halve the loads and stores of out.
template <typename Rows>
void AxpyRows(const typename Rows::Weight* w, const std::uint32_t* index, const float* coefs,
              std::size_t count, std::size_t cols, float* out) {
  using Weight = typename Rows::Weight;
  std::size_t i = 0;
  for (; i + 2 <= count; i += 2) {
    // The rows are scattered, which the hardware prefetchers do not predict: fetch the
    // next pair early.
    for (std::size_t j = i + 2; j < i + 4 && j < count; ++j) {
      PrefetchBytes(w + std::size_t{index[j]} * cols, cols * sizeof(Weight));
    }
    Rows::Add2(w + std::size_t{index[i]} * cols, w + std::size_t{index[i + 1]} * cols, coefs[i],
               coefs[i + 1], cols, out);
  }
  for (; i < count; ++i) Rows::Add1(w + std::size_t{index[i]} * cols, coefs[i], cols, out);
}

}  // namespace
}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_ROW_AXPY_H_
