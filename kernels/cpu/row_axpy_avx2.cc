// The row AXPYs of row_axpy.h compiled for Avx2 (-mavx2 -mfma -mf16c). Like matmul_avx2.cc,
// this file uses no standard-library templates, so that no AVX2-compiled copy of a shared
// inline function can be picked by the linker for callers that run on older CPUs.
#include <immintrin.h>

#include "kernels/cpu/row_axpy.h"

namespace ghost::kernels::internal {
namespace {

// fp16 rows: 8 values at a time through F16C, the column tail one at a time.
struct F16Rows {
  using Weight = std::uint16_t;
  static __m256 Load8(const std::uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static void Add2(const std::uint16_t* a, const std::uint16_t* b, float ca, float cb,
                   std::size_t cols, float* out) {
    const __m256 va = _mm256_set1_ps(ca);
    const __m256 vb = _mm256_set1_ps(cb);
    std::size_t c = 0;
    for (; c + 8 <= cols; c += 8) {
      const __m256 sum = _mm256_fmadd_ps(va, Load8(a + c), _mm256_loadu_ps(out + c));
      _mm256_storeu_ps(out + c, _mm256_fmadd_ps(vb, Load8(b + c), sum));
    }
    for (; c < cols; ++c) out[c] += ca * _cvtsh_ss(a[c]) + cb * _cvtsh_ss(b[c]);
  }
  static void Add1(const std::uint16_t* a, float ca, std::size_t cols, float* out) {
    const __m256 va = _mm256_set1_ps(ca);
    std::size_t c = 0;
    for (; c + 8 <= cols; c += 8) {
      _mm256_storeu_ps(out + c, _mm256_fmadd_ps(va, Load8(a + c), _mm256_loadu_ps(out + c)));
    }
    for (; c < cols; ++c) out[c] += ca * _cvtsh_ss(a[c]);
  }
};

}  // namespace

void AxpyF32RowsAvx2(const float* w, const std::uint32_t* index, const float* coefs,
                     std::size_t count, std::size_t cols, float* out) {
  AxpyRows<F32Rows>(w, index, coefs, count, cols, out);
}

void AxpyBf16RowsAvx2(const std::uint16_t* w, const std::uint32_t* index, const float* coefs,
                      std::size_t count, std::size_t cols, float* out) {
  AxpyRows<Bf16Rows>(w, index, coefs, count, cols, out);
}

void AxpyF16RowsAvx2(const std::uint16_t* w, const std::uint32_t* index, const float* coefs,
                     std::size_t count, std::size_t cols, float* out) {
  AxpyRows<F16Rows>(w, index, coefs, count, cols, out);
}

}  // namespace ghost::kernels::internal
