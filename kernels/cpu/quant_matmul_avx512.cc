// The AVX-512 low-bit kernels for CPUs without VNNI (this file alone is compiled with
// -mavx512f -mavx512bw -mavx512vl -mfma -mf16c), and the activation packer, which needs
// no integer products and serves both AVX-512 variants.
#include <cstring>

#include "kernels/cpu/quant_avx512_axpy.h"
#include "kernels/cpu/quant_avx512_kernels.h"

namespace ghost::kernels::internal {

float PackTokenAvx512(const float* x, const QuantWeights& w, std::int8_t* out, float* block_sums) {
  const QuantLayout& l = w.layout();
  const std::size_t cols = w.cols();
  const std::size_t block_size = w.block_size();
  __m512 max_abs = _mm512_setzero_ps();
  for (std::size_t c = 0; c < cols; c += 16) {
    const __mmask16 mask = cols - c >= 16 ? 0xffff : (1u << (cols - c)) - 1;
    max_abs = _mm512_max_ps(max_abs, _mm512_abs_ps(_mm512_maskz_loadu_ps(mask, x + c)));
  }
  const float max_value = _mm512_reduce_max_ps(max_abs);
  const __m512 inverse = _mm512_set1_ps(max_value > 0 ? 127.0f / max_value : 0.0f);
  // Lanes of absent blocks in a short last group stay zero; every other byte is written.
  const std::size_t group_values = l.slots_per_group * 4 * 64;
  if (l.blocks_per_row % kQuantGroupBlocks != 0) {
    std::memset(out + (l.groups_per_row - 1) * group_values, 0, group_values);
  }
  for (std::size_t b = l.blocks_per_row; b < l.scale_stride; ++b) block_sums[b] = 0.0f;
  // 16 consecutive weights j = 16w + 4k + s of a block are byte k of word w, digit s: a
  // 4x4 byte transpose puts each digit's four bytes in one 32-bit lane, which goes to that
  // digit's 64-byte vector at the block's lane.
  const __m128i transpose = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __m512i half = _mm512_castps_si512(_mm512_set1_ps(0.5f));
  const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  for (std::size_t block = 0; block < l.blocks_per_row; ++block) {
    const std::size_t group = block / kQuantGroupBlocks;
    std::int8_t* lane = out + group * group_values + 4 * (block % kQuantGroupBlocks);
    __m512i sum = _mm512_setzero_si512();
    for (std::size_t word = 0; word < l.full_words; ++word) {
      const std::size_t c = block * block_size + 16 * word;
      const __mmask16 mask = c >= cols ? 0 : cols - c >= 16 ? 0xffff : (1u << (cols - c)) - 1;
      const __m512 scaled = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, x + c), inverse);
      const __m512 signed_half = _mm512_castsi512_ps(
          _mm512_or_si512(_mm512_and_si512(_mm512_castps_si512(scaled), sign), half));
      const __m512i q = _mm512_cvttps_epi32(_mm512_add_ps(scaled, signed_half));
      sum = _mm512_add_epi32(sum, q);
      alignas(16) std::int32_t digits[4];
      _mm_store_si128(reinterpret_cast<__m128i*>(digits),
                      _mm_shuffle_epi8(_mm512_cvtepi32_epi8(q), transpose));
      for (int s = 0; s < 4; ++s) {
        std::memcpy(lane + (word * 4 + s) * 64, &digits[s], sizeof(std::int32_t));
      }
    }
    block_sums[block] = static_cast<float>(_mm512_reduce_add_epi32(sum));
  }
  return max_value / 127.0f;
}

void MatMulQuantAvx512(const QuantWeights& w, const PackedActivations& x, const std::uint32_t* rows,
                       std::size_t first, std::size_t count, float* y, std::size_t ldy) {
  MatMulQuantRows<false>(w, x, rows, first, count, y, ldy);
}

void QuantAxpyAvx512(const QuantWeights& w, const std::uint32_t* rows, const float* coefs,
                     std::size_t count, float* out_perm) {
  QuantAxpyRows<false>(w, rows, coefs, count, out_perm);
}

}  // namespace ghost::kernels::internal
