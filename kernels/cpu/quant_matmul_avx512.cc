// The AVX-512 low-bit kernels for CPUs without VNNI (this file alone is compiled with
// -mavx512f -mavx512bw -mavx512vl -mfma -mf16c), and the sparse-MLP row accumulation,
// which needs no integer products.
#include "kernels/cpu/quant_avx512_kernels.h"

namespace ghost::kernels::internal {
namespace {

// out_perm += sum over R rows of coef * row, in the AXPY layout (quant_internal.h): byte k
// of every 32-bit lane is one shift and mask away, looked up as a float (ternary -1/0/+1 or
// the exact codebook entry) and scaled by its lane's block scale, without cross-lane
// shuffles. Rows go in pairs: the loads and stores of out_perm are the bottleneck, and four rows
// measured slower (registers spill).
template <QuantKind K, int R>
void AxpyTile(const QuantWeights& w, const std::uint32_t* rows, const float* coefs,
              float* out_perm) {
  constexpr int kD = kDigits<K>;
  const QuantLayout& l = w.layout();
  const std::uint8_t* codes[R];
  const std::uint16_t* scales[R];
  __m512 table[R];
  for (int r = 0; r < R; ++r) {
    codes[r] = w.row_codes(rows[r]);
    scales[r] = w.row_scales(rows[r]);
    table[r] = _mm512_setr_ps(-1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    if constexpr (K == QuantKind::kCodebook2Bit) {
      const float* e = w.row_codebook(rows[r])->entries;
      table[r] = _mm512_setr_ps(e[0], e[1], e[2], e[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    }
  }
  const __m512i byte_mask = _mm512_set1_epi32(0xff);
  const std::size_t group_values = l.slots_per_group * kD * 64;
  for (std::size_t g = 0; g < l.groups_per_row; ++g) {
    const std::size_t stride = 4 * GroupBlocks(l, g);
    const std::size_t group_offset = g * kQuantGroupBlocks * l.block_bytes;
    float* group_out = out_perm + g * group_values;
    __m512 scale[R];
    for (int r = 0; r < R; ++r) {
      scale[r] = _mm512_mul_ps(_mm512_set1_ps(coefs[r]),
                               _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(
                                   scales[r] + g * kQuantGroupBlocks))));
    }
    for (std::size_t s_index = 0; s_index < l.slots_per_group; ++s_index) {
      __m512i digits[R][kD];
      for (int r = 0; r < R; ++r) {
        const std::uint8_t* p = codes[r] + group_offset + s_index * stride;
        Decode<K>(s_index == l.full_words ? LoadTail(p, l.tail_bytes) : Load64(p), digits[r]);
      }
      for (int s = 0; s < kD; ++s) {
        float* out = group_out + (s_index * kD + s) * 64;
        for (int k = 0; k < 4; ++k) {
          __m512 sum = _mm512_loadu_ps(out + 16 * k);
          for (int r = 0; r < R; ++r) {
            const __m512i index =
                _mm512_and_si512(_mm512_srli_epi32(digits[r][s], 8 * k), byte_mask);
            sum = _mm512_fmadd_ps(_mm512_permutexvar_ps(index, table[r]), scale[r], sum);
          }
          _mm512_storeu_ps(out + 16 * k, sum);
        }
      }
    }
  }
}

template <QuantKind K>
void AxpyRows(const QuantWeights& w, const std::uint32_t* rows, const float* coefs,
              std::size_t count, float* out_perm) {
  std::size_t i = 0;
  // The rows are scattered: fetch them kPrefetchRows ahead, far enough to cover the
  // memory latency.
  constexpr std::size_t kPrefetchRows = 8;
  for (std::size_t j = 0; j < kPrefetchRows && j < count; ++j) PrefetchRow(w, rows[j]);
  for (; i + 2 <= count; i += 2) {
    for (std::size_t j = i + kPrefetchRows; j < i + kPrefetchRows + 2 && j < count; ++j) {
      PrefetchRow(w, rows[j]);
    }
    AxpyTile<K, 2>(w, rows + i, coefs + i, out_perm);
  }
  if (i < count) AxpyTile<K, 1>(w, rows + i, coefs + i, out_perm);
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
