// The fp32-activation low-bit kernel of quant_f32_kernel.h on AVX-512 (this file alone is
// compiled with -mavx512f -mavx512bw -mavx512vl -mfma -mf16c): a group's 16 block lanes in
// one vector.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/quant_f32_kernel.h"
#include "kernels/cpu/vec_avx512.h"

namespace ghost::kernels::internal {
namespace {

struct Avx512Codes {
  using F = Avx512Vec;
  using I = __m512i;
  // 4 rows x 4 tokens: 16 accumulators, 4 code vectors, 4 tables and 4 weight vectors.
  static constexpr int kTileRows = 4;
  static constexpr int kMaxTokens = 4;
  // At n = 1 from memory, 2 chains measured ~30% faster than 4 for the 2-bit formats, 4 ~8%
  // faster than 2 for base 3 (from cache they were even).
  template <WeightFormat K>
  static constexpr int kChainsOneToken = K == WeightFormat::kTernaryBase3 ? 4 : 2;

  static I Load(const std::uint8_t* p, int /*half*/) { return _mm512_loadu_si512(p); }
  // 32-bit lane b holds the tail bytes of block b, zero-extended.
  static I LoadTail(const std::uint8_t* p, int tail_bytes, int /*half*/) {
    if (tail_bytes == 1) {
      return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  // Base-3 digits as bytes 0..2, for s = 0, 1, ... in order: state starts as the stored
  // bytes and keeps stored * 3^s mod 256, whose top trit (1 from 86, 2 from 171) is the
  // digit (see QuantLayout).
  static I NextBase3Digit(I& state, int s) {
    if (s > 0) state = _mm512_add_epi8(_mm512_add_epi8(state, state), state);
    const __m512i one = _mm512_set1_epi8(1);
    const __m512i ge1 =
        _mm512_maskz_mov_epi8(_mm512_cmpge_epu8_mask(state, _mm512_set1_epi8(86)), one);
    const __mmask64 ge2 = _mm512_cmpge_epu8_mask(state, _mm512_set1_epi8(static_cast<char>(171)));
    return _mm512_mask_add_epi8(ge1, ge2, ge1, one);
  }
  // vpermps reads the low 4 bits of an index: the 4 values repeated.
  static __m512 Table(const float* values) { return _mm512_broadcast_f32x4(_mm_loadu_ps(values)); }
  static __m512 Lookup(I source, int shift, __m512 table) {
    return _mm512_permutexvar_ps(_mm512_srli_epi32(source, shift), table);
  }
  static __m512 LoadScales(const std::uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
};

}  // namespace

void MatMulQuantF32Avx512(const QuantWeights& w, const float* x_perm, std::size_t n,
                          std::size_t first, std::size_t count, float* y, std::size_t ldy) {
  F32RowsAnyFormat<Avx512Codes>(w, x_perm, n, first, count, y, ldy);
}

}  // namespace ghost::kernels::internal
