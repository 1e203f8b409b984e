// The AVX-512 low-bit kernels for CPUs without VNNI (this file alone is compiled with
// -mavx512f -mavx512bw -mavx512vl -mfma -mf16c), and the sparse-MLP row accumulation,
// which needs no integer products.
#include "kernels/cpu/quant_avx512_kernels.h"

namespace ghost::kernels::internal {
namespace {

// out_perm += coef * row, in the activation layout: each decoded code is looked up as a
// float (ternary -1/0/+1 or the exact codebook entry) and scaled by its block's scale.
template <QuantKind K>
void AxpyRow(const QuantWeights& w, std::size_t row, float coef, float* out_perm) {
  constexpr int kD = kDigits<K>;
  const QuantLayout& l = w.layout();
  const std::uint8_t* codes = w.row_codes(row);
  const std::uint16_t* scales = w.row_scales(row);
  __m512 table = _mm512_setr_ps(-1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  if constexpr (K == QuantKind::kCodebook2Bit) {
    const float* e = w.row_codebook(row)->entries;
    table = _mm512_setr_ps(e[0], e[1], e[2], e[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  }
  const std::size_t group_values = l.slots_per_group * kD * 64;
  for (std::size_t g = 0; g < l.groups_per_row; ++g) {
    const std::size_t stride = 4 * GroupBlocks(l, g);
    const std::uint8_t* group_codes = codes + g * kQuantGroupBlocks * l.block_bytes;
    float* group_out = out_perm + g * group_values;
    const __m512 scale = _mm512_mul_ps(
        _mm512_set1_ps(coef), _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(
                                  scales + g * kQuantGroupBlocks))));
    // Quarter q of a 64-byte vector holds blocks 4q .. 4q + 3, 4 bytes each.
    __m512 quarter_scale[4];
    for (int q = 0; q < 4; ++q) {
      const __m512i block_of_lane = _mm512_setr_epi32(
          4 * q, 4 * q, 4 * q, 4 * q, 4 * q + 1, 4 * q + 1, 4 * q + 1, 4 * q + 1, 4 * q + 2,
          4 * q + 2, 4 * q + 2, 4 * q + 2, 4 * q + 3, 4 * q + 3, 4 * q + 3, 4 * q + 3);
      quarter_scale[q] = _mm512_permutexvar_ps(block_of_lane, scale);
    }
    const auto slot = [&](std::size_t s_index, __m512i bytes) {
      __m512i digits[kD];
      Decode<K>(bytes, digits);
      for (int s = 0; s < kD; ++s) {
        float* out = group_out + (s_index * kD + s) * 64;
        const __m128i quarters[4] = {
            _mm512_extracti32x4_epi32(digits[s], 0), _mm512_extracti32x4_epi32(digits[s], 1),
            _mm512_extracti32x4_epi32(digits[s], 2), _mm512_extracti32x4_epi32(digits[s], 3)};
        for (int q = 0; q < 4; ++q) {
          const __m512 value = _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(quarters[q]), table);
          _mm512_storeu_ps(out + 16 * q,
                           _mm512_fmadd_ps(value, quarter_scale[q], _mm512_loadu_ps(out + 16 * q)));
        }
      }
    };
    for (std::size_t word = 0; word < l.full_words; ++word) {
      slot(word, Load64(group_codes + word * stride));
    }
    if (l.tail_bytes > 0) {
      slot(l.full_words, LoadTail(group_codes + l.full_words * stride, l.tail_bytes));
    }
  }
}

template <QuantKind K>
void AxpyRows(const QuantWeights& w, const std::uint32_t* rows, const float* coefs,
              std::size_t count, float* out_perm) {
  for (std::size_t i = 0; i < count; ++i) AxpyRow<K>(w, rows[i], coefs[i], out_perm);
}

}  // namespace

void MatMulQuantAvx512(const QuantWeights& w, const PackedActivations& x, const std::uint32_t* rows,
                       std::size_t first, std::size_t count, float* y, std::size_t ldy) {
  MatMulQuantRows<false>(w, x, rows, first, count, y, ldy);
}

void QuantAxpyAvx512(const QuantWeights& w, const std::uint32_t* rows, const float* coefs,
                     std::size_t count, float* out_perm) {
  switch (w.kind()) {
    case QuantKind::kTernary2Bit:
      return AxpyRows<QuantKind::kTernary2Bit>(w, rows, coefs, count, out_perm);
    case QuantKind::kTernaryBase3:
      return AxpyRows<QuantKind::kTernaryBase3>(w, rows, coefs, count, out_perm);
    case QuantKind::kCodebook2Bit:
      return AxpyRows<QuantKind::kCodebook2Bit>(w, rows, coefs, count, out_perm);
  }
}

}  // namespace ghost::kernels::internal
