// AVX2 low-bit kernels (this file alone is compiled with -mavx2 -mfma -mf16c). A group's
// 16 block lanes are two 8-lane halves here. Internal linkage and no standard-library
// templates, for the reason given in matmul_avx2.cc.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/quant_internal.h"

namespace ghost::kernels::internal {
namespace {

// 3 tokens x 2 halves of integer accumulators + 3 float sums leave room for decoding.
constexpr int kMaxTokens = 3;

template <WeightFormat K>
constexpr int kDigits = TraitsOf(K).codes_per_byte;

// acc + per 32-bit lane, the sum of 4 products of unsigned code bytes (at most 127, so no
// 16-bit saturation) and int8 activations.
inline __m256i Dot(__m256i acc, __m256i codes, __m256i x) {
  const __m256i pairs = _mm256_maddubs_epi16(codes, x);
  return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

// The digits of 32 stored bytes, one vector per digit position s (see QuantLayout).
template <WeightFormat K>
inline void Decode(__m256i bytes, __m256i digits[kDigits<K>]) {
  if constexpr (K == WeightFormat::kTernaryBase3) {
    // Digit s is the top trit of r = stored * 3^s mod 256: 1 from 86 up, 2 from 171 up.
    // The state is r + 128, which multiplies by 3 the same way (3 * 128 = 128 mod 256),
    // so that signed compares (one operation, where unsigned ones take two) find r >= 86
    // as state > -43 and r >= 171 as state > 42.
    __m256i state = _mm256_xor_si256(bytes, _mm256_set1_epi8(static_cast<char>(0x80)));
    // Hidden from GCC, which otherwise turns the compare with -43 into a minimum and an
    // equality.
    __m256i bound1 = _mm256_set1_epi8(-43);
    asm("" : "+x"(bound1));
    for (int s = 0; s < 5; ++s) {
      if (s > 0) state = _mm256_add_epi8(_mm256_add_epi8(state, state), state);
      // Subtracting the 0xff (-1) masks counts them.
      const __m256i ge1 = _mm256_cmpgt_epi8(state, bound1);
      const __m256i ge2 = _mm256_cmpgt_epi8(state, _mm256_set1_epi8(42));
      digits[s] = _mm256_sub_epi8(_mm256_sub_epi8(_mm256_setzero_si256(), ge1), ge2);
    }
  } else {
    const __m256i mask = _mm256_set1_epi8(3);
    for (int s = 0; s < 4; ++s) {
      digits[s] = _mm256_and_si256(_mm256_srli_epi16(bytes, 2 * s), mask);
    }
  }
}

inline __m256i Load32(const void* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Half h of the tail slot: 32-bit lane b holds the tail bytes of block 8h + b.
inline __m256i LoadTail(const std::uint8_t* p, std::size_t tail_bytes, int h) {
  if (tail_bytes == 1) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8 * h)));
  }
  return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * h)));
}

inline __m256 LoadScales(const std::uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline float ReduceAdd(__m256 v) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  return _mm_cvtss_f32(sum);
}

inline std::size_t GroupBlocks(const QuantLayout& l, std::size_t group) {
  const std::size_t left = l.blocks_per_row - group * kQuantGroupBlocks;
  return left < kQuantGroupBlocks ? left : kQuantGroupBlocks;
}

// The bytes of half h of slot s_index of a group.
inline __m256i LoadSlot(const QuantLayout& l, const std::uint8_t* group_codes, std::size_t stride,
                        std::size_t s_index, int h) {
  if (s_index < l.full_words) return Load32(group_codes + s_index * stride + 32 * h);
  return LoadTail(group_codes + l.full_words * stride, l.tail_bytes, h);
}

// Ternary 2-bit codes of half h of a group against T tokens: acc[t] per 32-bit lane.
// Digits are masked in place where that is exact: bytes & 0x03 and & 0x0C are digits 0 and
// 1 times 1 and 4, and the bytes shifted by 4 give digits 2 and 3 likewise; one slot's
// vpmaddubsw pairs then add up in 16 bits, the "times 4" ones shifted back exactly, and a
// group's slots (at most 16, each under 2^11 per lane) sum in 16 bits before one vpmaddwd.
// That is ~40% fewer instructions per byte than shifting every digit and widening every
// product.
template <int T>
void TernaryGroupDots(const QuantLayout& l, const std::uint8_t* group_codes, std::size_t stride,
                      int h, const std::int8_t* group_x, __m256i acc[T]) {
  const __m256i mask1 = _mm256_set1_epi8(0x03), mask4 = _mm256_set1_epi8(0x0c);
  __m256i sum16[T];
  for (int t = 0; t < T; ++t) sum16[t] = _mm256_setzero_si256();
  for (std::size_t s_index = 0; s_index < l.slots_per_group; ++s_index) {
    const __m256i bytes = LoadSlot(l, group_codes, stride, s_index, h);
    const __m256i high = _mm256_srli_epi16(bytes, 4);
    const __m256i d0 = _mm256_and_si256(bytes, mask1), d1 = _mm256_and_si256(bytes, mask4);
    const __m256i d2 = _mm256_and_si256(high, mask1), d3 = _mm256_and_si256(high, mask4);
    const std::int8_t* xs = group_x + s_index * 4 * 64 + 32 * h;
    for (int t = 0; t < T; ++t) {
      const std::int8_t* xt = xs + t * l.activation_bytes;
      const __m256i times1 = _mm256_add_epi16(_mm256_maddubs_epi16(d0, Load32(xt)),
                                              _mm256_maddubs_epi16(d2, Load32(xt + 128)));
      const __m256i times4 = _mm256_add_epi16(_mm256_maddubs_epi16(d1, Load32(xt + 64)),
                                              _mm256_maddubs_epi16(d3, Load32(xt + 192)));
      sum16[t] = _mm256_add_epi16(sum16[t], _mm256_add_epi16(times1, _mm256_srai_epi16(times4, 2)));
    }
  }
  for (int t = 0; t < T; ++t) acc[t] = _mm256_madd_epi16(sum16[t], _mm256_set1_epi16(1));
}

// acc[t] += one base-3 slot's digits dotted with token t's activations (xs, tokens
// token_bytes apart). Digits are at most 2 and activations at most 127 in magnitude, so the
// slot's vpmaddubsw pairs add up in 16 bits (under 5 * 2 * 2 * 127 = 2540) and widen once.
template <int T>
inline void Base3SlotDots(const __m256i digits[5], const std::int8_t* xs, std::size_t token_bytes,
                          __m256i acc[T]) {
  for (int t = 0; t < T; ++t) {
    const std::int8_t* xt = xs + t * token_bytes;
    __m256i sum16 = _mm256_maddubs_epi16(digits[0], Load32(xt));
    for (int s = 1; s < 5; ++s) {
      sum16 = _mm256_add_epi16(sum16, _mm256_maddubs_epi16(digits[s], Load32(xt + 64 * s)));
    }
    acc[t] = _mm256_add_epi32(acc[t], _mm256_madd_epi16(sum16, _mm256_set1_epi16(1)));
  }
}

template <WeightFormat K, int T>
void RowTokens(const QuantWeights& w, const PackedActivations& x, std::size_t row, std::size_t t0,
               float* y, std::size_t ldy) {
  constexpr int kD = kDigits<K>;
  const QuantLayout& l = w.layout();
  const std::uint8_t* codes = w.row_codes(row);
  const std::uint16_t* scales = w.row_scales(row);
  const QuantCodebook* book = w.row_codebook(row);
  __m256i lut = _mm256_setzero_si256();
  if constexpr (K == WeightFormat::kCodebook2Bit) {
    lut = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(static_cast<char>(book->steps[0]), static_cast<char>(book->steps[1]),
                      static_cast<char>(book->steps[2]), static_cast<char>(book->steps[3]), 0, 0, 0,
                      0, 0, 0, 0, 0, 0, 0, 0, 0));
  }
  const std::int8_t* values = x.values + t0 * l.activation_bytes;
  const std::size_t group_values = l.slots_per_group * kD * 64;

  __m256 dots[T];
  for (int t = 0; t < T; ++t) dots[t] = _mm256_setzero_ps();
  for (std::size_t g = 0; g < l.groups_per_row; ++g) {
    const std::size_t stride = 4 * GroupBlocks(l, g);
    const std::uint8_t* group_codes = codes + g * kQuantGroupBlocks * l.block_bytes;
    const std::int8_t* group_x = values + g * group_values;
    for (int h = 0; h < 2; ++h) {
      __m256i acc[T];
      if constexpr (K == WeightFormat::kTernary2Bit) {
        TernaryGroupDots<T>(l, group_codes, stride, h, group_x, acc);
      } else {
        for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_si256();
        for (std::size_t s_index = 0; s_index < l.slots_per_group; ++s_index) {
          __m256i digits[kD];
          Decode<K>(LoadSlot(l, group_codes, stride, s_index, h), digits);
          const std::int8_t* slot_x = group_x + s_index * kD * 64 + 32 * h;
          if constexpr (K == WeightFormat::kTernaryBase3) {
            Base3SlotDots<T>(digits, slot_x, l.activation_bytes, acc);
          } else {
            for (int s = 0; s < kD; ++s) {
              if constexpr (K == WeightFormat::kCodebook2Bit) {
                digits[s] = _mm256_shuffle_epi8(lut, digits[s]);
              }
              for (int t = 0; t < T; ++t) {
                acc[t] = Dot(acc[t], digits[s], Load32(slot_x + s * 64 + t * l.activation_bytes));
              }
            }
          }
        }
      }
      const __m256 scale = LoadScales(scales + g * kQuantGroupBlocks + 8 * h);
      for (int t = 0; t < T; ++t) {
        dots[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[t]), scale, dots[t]);
      }
    }
  }
  const float alpha = book ? book->step : 1.0f;
  const float beta = book ? book->offset : -1.0f;
  for (int t = 0; t < T; ++t) {
    const float* sums = x.block_sums + (t0 + t) * x.block_sums_stride;
    __m256 block_sums = _mm256_setzero_ps();
    for (std::size_t i = 0; i < l.scale_stride; i += 8) {
      block_sums = _mm256_fmadd_ps(_mm256_loadu_ps(sums + i), LoadScales(scales + i), block_sums);
    }
    y[t * ldy] = x.scales[t0 + t] * (alpha * ReduceAdd(dots[t]) + beta * ReduceAdd(block_sums));
  }
}

template <WeightFormat K>
void Rows(const QuantWeights& w, const PackedActivations& x, const std::uint32_t* rows,
          std::size_t first, std::size_t count, float* y, std::size_t ldy) {
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t row = rows ? rows[i] : first + i;
    if (rows != nullptr && i + 1 < count) PrefetchRow(w, rows[i + 1]);  // Scattered rows.
    for (std::size_t t0 = 0; t0 < x.n; t0 += kMaxTokens) {
      float* out = y + t0 * ldy + i;
      switch (x.n - t0) {
        case 1:
          RowTokens<K, 1>(w, x, row, t0, out, ldy);
          break;
        case 2:
          RowTokens<K, 2>(w, x, row, t0, out, ldy);
          break;
        default:
          RowTokens<K, 3>(w, x, row, t0, out, ldy);
          break;
      }
    }
  }
}

// out_perm += coef * row in the AXPY layout (quant_internal.h); half h of a slot's 16
// lanes is 8 consecutive floats of each of its 4 byte rows.
template <WeightFormat K>
void AxpyRow(const QuantWeights& w, std::size_t row, float coef, float* out_perm) {
  constexpr int kD = kDigits<K>;
  const QuantLayout& l = w.layout();
  const std::uint8_t* codes = w.row_codes(row);
  const std::uint16_t* scales = w.row_scales(row);
  __m256 table = _mm256_setr_ps(-1, 0, 1, 0, 0, 0, 0, 0);
  if constexpr (K == WeightFormat::kCodebook2Bit) {
    const float* e = w.row_codebook(row)->entries;
    table = _mm256_setr_ps(e[0], e[1], e[2], e[3], 0, 0, 0, 0);
  }
  const __m256i byte_mask = _mm256_set1_epi32(0xff);
  const std::size_t group_values = l.slots_per_group * kD * 64;
  for (std::size_t g = 0; g < l.groups_per_row; ++g) {
    const std::size_t stride = 4 * GroupBlocks(l, g);
    const std::uint8_t* group_codes = codes + g * kQuantGroupBlocks * l.block_bytes;
    for (int h = 0; h < 2; ++h) {
      const __m256 scale =
          _mm256_mul_ps(_mm256_set1_ps(coef), LoadScales(scales + g * kQuantGroupBlocks + 8 * h));
      for (std::size_t s_index = 0; s_index < l.slots_per_group; ++s_index) {
        __m256i digits[kD];
        Decode<K>(LoadSlot(l, group_codes, stride, s_index, h), digits);
        for (int s = 0; s < kD; ++s) {
          float* out = out_perm + g * group_values + (s_index * kD + s) * 64 + 8 * h;
          for (int k = 0; k < 4; ++k) {
            const __m256i index = _mm256_and_si256(_mm256_srli_epi32(digits[s], 8 * k), byte_mask);
            const __m256 value = _mm256_permutevar8x32_ps(table, index);
            _mm256_storeu_ps(out + 16 * k,
                             _mm256_fmadd_ps(value, scale, _mm256_loadu_ps(out + 16 * k)));
          }
        }
      }
    }
  }
}

template <WeightFormat K>
void AxpyRows(const QuantWeights& w, const std::uint32_t* rows, const float* coefs,
              std::size_t count, float* out_perm) {
  for (std::size_t i = 0; i < count; ++i) {
    if (i + 1 < count) PrefetchRow(w, rows[i + 1]);  // Scattered rows: fetch the next early.
    AxpyRow<K>(w, rows[i], coefs[i], out_perm);
  }
}

}  // namespace

void MatMulQuantAvx2(const QuantWeights& w, const PackedActivations& x, const std::uint32_t* rows,
                     std::size_t first, std::size_t count, float* y, std::size_t ldy) {
  switch (w.format()) {
    case WeightFormat::kTernary2Bit:
      return Rows<WeightFormat::kTernary2Bit>(w, x, rows, first, count, y, ldy);
    case WeightFormat::kTernaryBase3:
      return Rows<WeightFormat::kTernaryBase3>(w, x, rows, first, count, y, ldy);
    case WeightFormat::kCodebook2Bit:
      return Rows<WeightFormat::kCodebook2Bit>(w, x, rows, first, count, y, ldy);
    case WeightFormat::kF32:
    case WeightFormat::kBF16:
    case WeightFormat::kF16:
      return;  // No QuantWeights holds a dense format (quant_matmul.h).
  }
}

void QuantAxpyAvx2(const QuantWeights& w, const std::uint32_t* rows, const float* coefs,
                   std::size_t count, float* out_perm) {
  switch (w.format()) {
    case WeightFormat::kTernary2Bit:
      return AxpyRows<WeightFormat::kTernary2Bit>(w, rows, coefs, count, out_perm);
    case WeightFormat::kTernaryBase3:
      return AxpyRows<WeightFormat::kTernaryBase3>(w, rows, coefs, count, out_perm);
    case WeightFormat::kCodebook2Bit:
      return AxpyRows<WeightFormat::kCodebook2Bit>(w, rows, coefs, count, out_perm);
    case WeightFormat::kF32:
    case WeightFormat::kBF16:
    case WeightFormat::kF16:
      return;  // No QuantWeights holds a dense format (quant_matmul.h).
  }
}

}  // namespace ghost::kernels::internal
