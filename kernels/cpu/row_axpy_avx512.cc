// The row AXPYs of row_axpy.h compiled for Avx512 (-mavx512f -mavx512bw -mavx512vl -mfma
// -mf16c). Like matmul_avx512.cc, this file uses no standard-library templates, so that no
// AVX-512-compiled copy of a shared inline function can be picked by the linker for callers
// that run on older CPUs.
#include <immintrin.h>

#include "kernels/cpu/row_axpy.h"

namespace ghost::kernels::internal {
namespace {

// fp16 rows: 16 values at a time (vcvtph2ps is AVX-512F), the column tail masked.
struct F16Rows {
  using Weight = std::uint16_t;
  static __m512 Load16(const std::uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static __m512 LoadTail(__mmask16 mask, const std::uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, p));
  }
  static __mmask16 TailMask(std::size_t left) { return static_cast<__mmask16>((1u << left) - 1); }
  static void Add2(const std::uint16_t* a, const std::uint16_t* b, float ca, float cb,
                   std::size_t cols, float* out) {
    const __m512 va = _mm512_set1_ps(ca);
    const __m512 vb = _mm512_set1_ps(cb);
    std::size_t c = 0;
    for (; c + 16 <= cols; c += 16) {
      const __m512 sum = _mm512_fmadd_ps(va, Load16(a + c), _mm512_loadu_ps(out + c));
      _mm512_storeu_ps(out + c, _mm512_fmadd_ps(vb, Load16(b + c), sum));
    }
    if (c < cols) {
      const __mmask16 mask = TailMask(cols - c);
      const __m512 sum =
          _mm512_fmadd_ps(va, LoadTail(mask, a + c), _mm512_maskz_loadu_ps(mask, out + c));
      _mm512_mask_storeu_ps(out + c, mask, _mm512_fmadd_ps(vb, LoadTail(mask, b + c), sum));
    }
  }
  static void Add1(const std::uint16_t* a, float ca, std::size_t cols, float* out) {
    const __m512 va = _mm512_set1_ps(ca);
    std::size_t c = 0;
    for (; c + 16 <= cols; c += 16) {
      _mm512_storeu_ps(out + c, _mm512_fmadd_ps(va, Load16(a + c), _mm512_loadu_ps(out + c)));
    }
    if (c < cols) {
      const __mmask16 mask = TailMask(cols - c);
      _mm512_mask_storeu_ps(
          out + c, mask,
          _mm512_fmadd_ps(va, LoadTail(mask, a + c), _mm512_maskz_loadu_ps(mask, out + c)));
    }
  }
};

}  // namespace

void AxpyF32RowsAvx512(const float* w, const std::uint32_t* index, const float* coefs,
                       std::size_t count, std::size_t cols, float* out) {
  AxpyRows<F32Rows>(w, index, coefs, count, cols, out);
}

void AxpyBf16RowsAvx512(const std::uint16_t* w, const std::uint32_t* index, const float* coefs,
                        std::size_t count, std::size_t cols, float* out) {
  AxpyRows<Bf16Rows>(w, index, coefs, count, cols, out);
}

void AxpyF16RowsAvx512(const std::uint16_t* w, const std::uint32_t* index, const float* coefs,
                       std::size_t count, std::size_t cols, float* out) {
  AxpyRows<F16Rows>(w, index, coefs, count, cols, out);
}

}  // namespace ghost::kernels::internal
