// The sparse MLP's down projection on AVX-512 with integer products, included by the two
// AVX-512 files (with and without VNNI). Internal linkage and no standard-library
// templates, as quant_avx512_kernels.h.
//
// out_perm += sum_i coefs[i] * W[rows[i]] is a product whose reduction runs over the listed
// rows. Per block b, every row's factor coefs[i] * scale[rows[i], b] (times the codebook
// step) is quantized to int8 against the largest of them, S_b; four rows' codes are then
// interleaved byte by byte so that one vpdpbusd adds four rows into 16 int32 sums. The
// constant part of each value (-1 for ternary codes stored as value + 1, the codebook
// offset) is a per-block float sum, added once. A float AXPY needs a multiply-add per
// weight and per output element; this needs one per four weights, which is what lets the
// sparse path keep up with memory.
#ifndef GHOST_KERNELS_CPU_QUANT_AVX512_AXPY_H_
#define GHOST_KERNELS_CPU_QUANT_AVX512_AXPY_H_

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/quant_avx512_kernels.h"

namespace ghost::kernels::internal {
namespace {

constexpr std::size_t kAxpyQuad = 4;
constexpr std::size_t kScalePrefetch = 16;  // Rows ahead, in the pass over the scales.

// The codebook step and offset of a row (1 and -1 for ternary).
template <WeightFormat K>
inline void RowAffine(const QuantWeights& w, std::uint32_t row, float* step, float* offset) {
  if constexpr (K == WeightFormat::kCodebook2Bit) {
    const QuantCodebook* book = w.row_codebook(row);
    *step = book->step;
    *offset = book->offset;
  } else {
    *step = 1.0f;
    *offset = -1.0f;
  }
}

// Factors per row and 16-block group, as floats: coef * scale * step.
inline __m512 RowFactors(const QuantWeights& w, std::uint32_t row, std::size_t group,
                         float coef_step) {
  const std::uint16_t* scales = w.row_scales(row) + group * kQuantGroupBlocks;
  return _mm512_mul_ps(
      _mm512_set1_ps(coef_step),
      _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales))));
}

template <bool kVnni, WeightFormat K>
void AxpyRowsInt(const QuantWeights& w, const std::uint32_t* rows, const float* coefs,
                 std::size_t count, float* out_perm) {
  if (count == 0) return;
  constexpr int kD = kDigits<K>;
  const QuantLayout& l = w.layout();
  const std::size_t groups = l.groups_per_row;
  const std::size_t quads = (count + kAxpyQuad - 1) / kAxpyQuad;
  const AxpyBuffers buffers =
      ThreadAxpyBuffers(quads * groups * 64, groups * kQuantGroupBlocks, l.activation_bytes);
  float* block_scale = buffers.block_scale;    // The largest factor of each block.
  float* block_offset = buffers.block_offset;  // Sum of coef * scale * offset per block.
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));

  // Pass 1: the largest factor and the constant term of every block.
  for (std::size_t g = 0; g < groups; ++g) {
    __m512 max_factor = _mm512_setzero_ps();
    __m512 offsets = _mm512_setzero_ps();
    for (std::size_t i = 0; i < count; ++i) {
      if (i + kScalePrefetch < count) {  // Scattered rows: a cache line each, fetched early.
        PrefetchLine(w.row_scales(rows[i + kScalePrefetch]) + g * kQuantGroupBlocks);
      }
      float step, offset;
      RowAffine<K>(w, rows[i], &step, &offset);
      const __m512 scaled = RowFactors(w, rows[i], g, coefs[i]);
      max_factor = _mm512_max_ps(
          max_factor, _mm512_castsi512_ps(_mm512_and_si512(
                          _mm512_castps_si512(_mm512_mul_ps(scaled, _mm512_set1_ps(step))),
                          _mm512_castps_si512(abs_mask))));
      offsets = _mm512_fmadd_ps(scaled, _mm512_set1_ps(offset), offsets);
    }
    _mm512_storeu_ps(block_scale + g * kQuantGroupBlocks, max_factor);
    _mm512_storeu_ps(block_offset + g * kQuantGroupBlocks, offsets);
  }
  // Pass 2: int8 factors, four rows per 32-bit lane: byte r of lane b is row 4q + r's
  // factor for block b of the group (zero for the rows past count).
  for (std::size_t g = 0; g < groups; ++g) {
    const __m512 max_factor = _mm512_loadu_ps(block_scale + g * kQuantGroupBlocks);
    const __mmask16 nonzero = _mm512_cmp_ps_mask(max_factor, _mm512_setzero_ps(), _CMP_GT_OQ);
    const __m512 inverse = _mm512_maskz_div_ps(nonzero, _mm512_set1_ps(127.0f), max_factor);
    for (std::size_t q = 0; q < quads; ++q) {
      __m512i packed = _mm512_setzero_si512();
      for (std::size_t r = 0; r < kAxpyQuad && q * kAxpyQuad + r < count; ++r) {
        const std::size_t i = q * kAxpyQuad + r;
        float step, offset;
        RowAffine<K>(w, rows[i], &step, &offset);
        const __m512 scaled = _mm512_mul_ps(
            _mm512_mul_ps(RowFactors(w, rows[i], g, coefs[i]), _mm512_set1_ps(step)), inverse);
        const __m512i value = _mm512_and_si512(_mm512_cvtps_epi32(scaled), _mm512_set1_epi32(0xff));
        packed = _mm512_or_si512(packed, _mm512_slli_epi32(value, 8 * r));
      }
      _mm512_storeu_si512(buffers.factors + (q * groups + g) * 64, packed);
    }
  }
  // Pass 3: the integer sums.
  std::int32_t* acc = buffers.acc;
  std::memset(acc, 0, l.activation_bytes * sizeof(std::int32_t));
  const std::size_t group_values = l.slots_per_group * kD * 64;
  for (std::size_t q = 0; q < quads; ++q) {
    const std::uint8_t* codes[kAxpyQuad];
    __m512i lut[kAxpyQuad];
    for (std::size_t r = 0; r < kAxpyQuad; ++r) {
      // Rows past count repeat the last one: their factors are zero.
      const std::uint32_t row = rows[q * kAxpyQuad + r < count ? q * kAxpyQuad + r : count - 1];
      codes[r] = w.row_codes(row);
      lut[r] = _mm512_setzero_si512();
      if constexpr (K == WeightFormat::kCodebook2Bit) lut[r] = CodebookSteps(*w.row_codebook(row));
    }
    if (q + 2 < quads) {  // Scattered rows: fetch a quad ahead of the next one.
      for (std::size_t r = 0; r < kAxpyQuad && (q + 2) * kAxpyQuad + r < count; ++r) {
        PrefetchBytes(w.row_codes(rows[(q + 2) * kAxpyQuad + r]), l.row_bytes);
      }
    }
    for (std::size_t g = 0; g < groups; ++g) {
      const __m512i factors = _mm512_loadu_si512(buffers.factors + (q * groups + g) * 64);
      __m512i factor[4];
      for (int m = 0; m < 4; ++m) {
        // Lane 4L + j of vector m takes block 4L + m's four factors.
        const __m512i index =
            _mm512_add_epi32(_mm512_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12),
                             _mm512_set1_epi32(m));
        factor[m] = _mm512_permutexvar_epi32(index, factors);
      }
      const std::size_t stride = 4 * GroupBlocks(l, g);
      const std::size_t group_offset = g * kQuantGroupBlocks * l.block_bytes;
      std::int32_t* group_acc = acc + g * group_values;
      for (std::size_t s_index = 0; s_index < l.slots_per_group; ++s_index) {
        __m512i state[kAxpyQuad];
        for (std::size_t r = 0; r < kAxpyQuad; ++r) {
          const std::uint8_t* p = codes[r] + group_offset + s_index * stride;
          state[r] = s_index == l.full_words ? LoadTail(p, l.tail_bytes) : Load64(p);
        }
        for (int s = 0; s < kD; ++s) {
          __m512i d[kAxpyQuad];
          for (std::size_t r = 0; r < kAxpyQuad; ++r) {
            d[r] = NextDigit<K>(state[r], s);
            if constexpr (K == WeightFormat::kCodebook2Bit) {
              d[r] = _mm512_shuffle_epi8(lut[r], d[r]);
            }
          }
          // Byte then word interleaves: vector m's 32-bit lane 4L + j holds byte 16L + 4m + j
          // of the four rows, which belongs to block 4L + m (factor[m]).
          const __m512i lo01 = _mm512_unpacklo_epi8(d[0], d[1]);
          const __m512i hi01 = _mm512_unpackhi_epi8(d[0], d[1]);
          const __m512i lo23 = _mm512_unpacklo_epi8(d[2], d[3]);
          const __m512i hi23 = _mm512_unpackhi_epi8(d[2], d[3]);
          const __m512i quad[4] = {
              _mm512_unpacklo_epi16(lo01, lo23), _mm512_unpackhi_epi16(lo01, lo23),
              _mm512_unpacklo_epi16(hi01, hi23), _mm512_unpackhi_epi16(hi01, hi23)};
          std::int32_t* out = group_acc + (s_index * kD + s) * 64;
          for (int m = 0; m < 4; ++m) {
            __m512i sum = _mm512_loadu_si512(out + 16 * m);
            _mm512_storeu_si512(out + 16 * m, Dot<kVnni>(sum, quad[m], factor[m]));
          }
        }
      }
    }
  }
  // The sums back to floats, in the AXPY layout: S_b * sum + the constant term. Vector m
  // lane 4L + j (byte 16L + 4m + j) goes to AXPY vector j lane 4L + m, whose block is 4L + m:
  // a 4x4 transpose within each 128-bit lane puts every lane next to its block's scale.
  const __m512 to_scale = _mm512_set1_ps(1.0f / 127.0f);
  for (std::size_t p0 = 0; p0 < l.activation_bytes; p0 += 64) {
    const std::size_t block = p0 / group_values * kQuantGroupBlocks;
    const __m512 scale = _mm512_mul_ps(_mm512_loadu_ps(block_scale + block), to_scale);
    const __m512 offset = _mm512_loadu_ps(block_offset + block);
    const __m512i a0 = _mm512_loadu_si512(acc + p0), a1 = _mm512_loadu_si512(acc + p0 + 16);
    const __m512i a2 = _mm512_loadu_si512(acc + p0 + 32), a3 = _mm512_loadu_si512(acc + p0 + 48);
    const __m512i t0 = _mm512_unpacklo_epi32(a0, a1), t1 = _mm512_unpacklo_epi32(a2, a3);
    const __m512i t2 = _mm512_unpackhi_epi32(a0, a1), t3 = _mm512_unpackhi_epi32(a2, a3);
    const __m512i sums[4] = {_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1),
                             _mm512_unpacklo_epi64(t2, t3), _mm512_unpackhi_epi64(t2, t3)};
    for (int j = 0; j < 4; ++j) {
      float* out = out_perm + p0 + 16 * j;
      const __m512 value = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums[j]), scale, offset);
      _mm512_storeu_ps(out, _mm512_add_ps(_mm512_loadu_ps(out), value));
    }
  }
}

template <bool kVnni>
void QuantAxpyRows(const QuantWeights& w, const std::uint32_t* rows, const float* coefs,
                   std::size_t count, float* out_perm) {
  switch (w.format()) {
    case WeightFormat::kTernary2Bit:
      return AxpyRowsInt<kVnni, WeightFormat::kTernary2Bit>(w, rows, coefs, count, out_perm);
    case WeightFormat::kTernaryBase3:
      return AxpyRowsInt<kVnni, WeightFormat::kTernaryBase3>(w, rows, coefs, count, out_perm);
    case WeightFormat::kCodebook2Bit:
      return AxpyRowsInt<kVnni, WeightFormat::kCodebook2Bit>(w, rows, coefs, count, out_perm);
    case WeightFormat::kF32:
    case WeightFormat::kBF16:
    case WeightFormat::kF16:
      return;  // No QuantWeights holds a dense format (quant_matmul.h).
  }
}

}  // namespace
}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_QUANT_AVX512_AXPY_H_
