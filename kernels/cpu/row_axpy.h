// Internal to kernels/cpu: out += a * row for fp32 and bf16 rows. The loops are plain C++
// that GCC vectorizes; row_axpy_{scalar,avx2,avx512}.cc compile them once per ISA.
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
using AxpyBf16RowsFn = void (*)(const std::uint16_t* w, const std::uint32_t* index,
                                const float* coefs, std::size_t count, std::size_t cols,
                                float* out);

void AxpyF32RowsScalar(const float*, const std::uint32_t*, const float*, std::size_t, std::size_t,
                       float*);
void AxpyBf16RowsScalar(const std::uint16_t*, const std::uint32_t*, const float*, std::size_t,
                        std::size_t, float*);
void AxpyF32RowsAvx2(const float*, const std::uint32_t*, const float*, std::size_t, std::size_t,
                     float*);
void AxpyBf16RowsAvx2(const std::uint16_t*, const std::uint32_t*, const float*, std::size_t,
                      std::size_t, float*);
void AxpyF32RowsAvx512(const float*, const std::uint32_t*, const float*, std::size_t, std::size_t,
                       float*);
void AxpyBf16RowsAvx512(const std::uint16_t*, const std::uint32_t*, const float*, std::size_t,
                        std::size_t, float*);

namespace {  // Internal linkage: each ISA file gets its own copy.

inline float WidenRowValue(float v) { return v; }
inline float WidenRowValue(std::uint16_t v) {
  const std::uint32_t bits = std::uint32_t{v} << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

// Two rows per pass halve the loads and stores of out.
template <typename Weight>
void AxpyRows(const Weight* w, const std::uint32_t* index, const float* coefs, std::size_t count,
              std::size_t cols, float* __restrict out) {
  std::size_t i = 0;
  for (; i + 2 <= count; i += 2) {
    // The rows are scattered, which the hardware prefetchers do not predict: fetch the
    // next pair early.
    for (std::size_t j = i + 2; j < i + 4 && j < count; ++j) {
      PrefetchBytes(w + std::size_t{index[j]} * cols, cols * sizeof(Weight));
    }
    const Weight* __restrict a = w + std::size_t{index[i]} * cols;
    const Weight* __restrict b = w + std::size_t{index[i + 1]} * cols;
    const float ca = coefs[i];
    const float cb = coefs[i + 1];
    for (std::size_t c = 0; c < cols; ++c) {
      out[c] += ca * WidenRowValue(a[c]) + cb * WidenRowValue(b[c]);
    }
  }
  for (; i < count; ++i) {
    const Weight* __restrict a = w + std::size_t{index[i]} * cols;
    const float ca = coefs[i];
    for (std::size_t c = 0; c < cols; ++c) out[c] += ca * WidenRowValue(a[c]);
  }
}

}  // namespace
}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_ROW_AXPY_H_
