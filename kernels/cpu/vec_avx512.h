// Internal to kernels/cpu: the vector type of vec.h for AVX-512F, 16 floats. Include only
// from translation units compiled with -mavx512f -mfma.
#ifndef GHOST_KERNELS_CPU_VEC_AVX512_H_
#define GHOST_KERNELS_CPU_VEC_AVX512_H_

#include <immintrin.h>

#include "kernels/cpu/vec.h"

namespace ghost::kernels::internal {
namespace {

struct Avx512Vec {
  using V = __m512;
  static constexpr std::size_t kWidth = 16;
  static V Load(const float* p) { return _mm512_loadu_ps(p); }
  static V LoadBf16(const std::uint16_t* p) {
    const __m256i halves = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(halves), 16));
  }
  static void Store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V Set(float x) { return _mm512_set1_ps(x); }
  static V Add(V a, V b) { return _mm512_add_ps(a, b); }
  static V Sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V Mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V Div(V a, V b) { return _mm512_div_ps(a, b); }
  static V Max(V a, V b) { return _mm512_max_ps(a, b); }
  static V Min(V a, V b) { return _mm512_min_ps(a, b); }
  static V Fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static float ReduceAdd(V v) { return _mm512_reduce_add_ps(v); }
  static float ReduceMax(V v) { return _mm512_reduce_max_ps(v); }
  // A transposing tree: pairs of vectors, then pairs of pairs, within each 128-bit lane;
  // then the four lanes. Lane k of the result holds the sums of v[4k .. 4k + 3].
  static void ReduceAddMany(const V* v, float* out) {
    __m512 pairs[8];
    for (int i = 0; i < 8; ++i) {
      pairs[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                               _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    }
    __m512 quads[4];
    for (int i = 0; i < 4; ++i) {
      const __m512d a = _mm512_castps_pd(pairs[2 * i]);
      const __m512d b = _mm512_castps_pd(pairs[2 * i + 1]);
      quads[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                               _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
    }
    const __m512 q01 = _mm512_add_ps(_mm512_shuffle_f32x4(quads[0], quads[1], 0x44),
                                     _mm512_shuffle_f32x4(quads[0], quads[1], 0xEE));
    const __m512 q23 = _mm512_add_ps(_mm512_shuffle_f32x4(quads[2], quads[3], 0x44),
                                     _mm512_shuffle_f32x4(quads[2], quads[3], 0xEE));
    _mm512_storeu_ps(out, _mm512_add_ps(_mm512_shuffle_f32x4(q01, q23, 0x88),
                                        _mm512_shuffle_f32x4(q01, q23, 0xDD)));
  }
  static V Round(V v) {
    return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static V Pow2(V n) {
    const __m512i biased = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(biased, 23));
  }
};

}  // namespace
}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_VEC_AVX512_H_
