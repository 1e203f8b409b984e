// The fp32-activation low-bit kernel of quant_f32_kernel.h on AVX2 (this file alone is
// compiled with -mavx2 -mfma -mf16c): a group's 16 block lanes in two 8-lane halves.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/quant_f32_kernel.h"
#include "kernels/cpu/vec_avx2.h"

namespace ghost::kernels::internal {
namespace {

struct Avx2Codes {
  using F = Avx2Vec;
  using I = __m256i;
  // 3 rows x 4 tokens: 12 accumulators, so some values spill, yet at n = 8 this measured
  // 10-20% faster than 2 x 3 (which fits the 16 registers) and than 3 x 3.
  static constexpr int kTileRows = 3;
  static constexpr int kMaxTokens = 4;
  template <WeightFormat K>
  static constexpr int kChainsOneToken = 4;

  static I Load(const std::uint8_t* p, int half) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * half));
  }
  // 32-bit lane b holds the tail bytes of block 8 * half + b, zero-extended.
  static I LoadTail(const std::uint8_t* p, int tail_bytes, int half) {
    if (tail_bytes == 1) {
      return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8 * half)));
    }
    return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * half)));
  }
  // As Avx512Codes::NextBase3Digit; subtracting the 0xff (-1) masks of v >= 86 and
  // v >= 171 (unsigned: max(v, bound) == v) counts them.
  static I NextBase3Digit(I& state, int s) {
    if (s > 0) state = _mm256_add_epi8(_mm256_add_epi8(state, state), state);
    const __m256i ge1 = _mm256_cmpeq_epi8(_mm256_max_epu8(state, _mm256_set1_epi8(86)), state);
    const __m256i ge2 =
        _mm256_cmpeq_epi8(_mm256_max_epu8(state, _mm256_set1_epi8(static_cast<char>(171))), state);
    return _mm256_sub_epi8(_mm256_sub_epi8(_mm256_setzero_si256(), ge1), ge2);
  }
  // vpermps reads the low 3 bits of an index: the 4 values twice.
  static __m256 Table(const float* values) {
    return _mm256_broadcast_ps(reinterpret_cast<const __m128*>(values));
  }
  static __m256 Lookup(I source, int shift, __m256 table) {
    return _mm256_permutevar8x32_ps(table, _mm256_srli_epi32(source, shift));
  }
  static __m256 LoadScales(const std::uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
};

}  // namespace

void MatMulQuantF32Avx2(const QuantWeights& w, const float* x_perm, std::size_t n,
                        std::size_t first, std::size_t count, float* y, std::size_t ldy) {
  F32RowsAnyFormat<Avx2Codes>(w, x_perm, n, first, count, y, ldy);
}

}  // namespace ghost::kernels::internal
