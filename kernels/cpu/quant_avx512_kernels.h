// AVX-512 low-bit kernels, included by exactly two files: quant_matmul_avx512.cc (F + BW:
// products through vpmaddubsw) and quant_matmul_avx512_vnni.cc (vpdpbusd), each compiled
// with its own ISA flags. Internal linkage and no standard-library templates, for the
// reason given in matmul_avx2.cc.
#ifndef GHOST_KERNELS_CPU_QUANT_AVX512_KERNELS_H_
#define GHOST_KERNELS_CPU_QUANT_AVX512_KERNELS_H_

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/prefetch.h"
#include "kernels/cpu/quant_internal.h"
#include "kernels/cpu/vec_avx512.h"

namespace ghost::kernels::internal {
namespace {

constexpr int kTileRows = 4;
constexpr std::size_t kPrefetchTiles = 4;
constexpr std::size_t kPrefetchRows = 8;  // Ahead, for the one-token path over listed rows.
constexpr int kMaxTokens = 4;
// The one-token product over consecutive rows reads the codes as one linear stream (a row's
// scales and codes are adjacent at TinyLlama's shapes, quant_matmul.h). Each 64-byte load
// feeds ~12 instructions, so a core holds too few loads in flight to cover memory latency,
// and the hardware prefetchers alone got 10.5 GB/s per core against 16.6 for plain reads
// (Sapphire Rapids VM). Prefetching this far ahead into L2: ternary-2bit B=64 at n = 1 went
// from 0.51-0.69 to 0.78-0.83 of bandwidth at 4096x14336 and to 0.64-0.79 at 2048x5632
// (2 threads, quiet VM; 2, 6 and 8 KiB and prefetcht0/t2 measured alike or worse, whole rows
// a few rows ahead slower).
constexpr std::size_t kStreamPrefetchBytes = 4096;

template <WeightFormat K>
constexpr int kDigits = TraitsOf(K).codes_per_byte;

// acc + per 32-bit lane, the sum of 4 products of unsigned code bytes and int8 activations.
template <bool kVnni>
inline __m512i Dot(__m512i acc, __m512i codes, __m512i x) {
  if constexpr (kVnni) {
    return _mm512_dpbusd_epi32(acc, codes, x);
  } else {  // No saturation: codes are at most 127, so a pair stays under 2^15.
    const __m512i pairs = _mm512_maddubs_epi16(codes, x);
    return _mm512_add_epi32(acc, _mm512_madd_epi16(pairs, _mm512_set1_epi16(1)));
  }
}

// The top trit of each byte b / 256 (b * 3 >> 8): 1 from 86 up, 2 from 171 up.
inline __m512i TopTrit(__m512i bytes) {
  const __mmask64 ge1 = _mm512_cmpge_epu8_mask(bytes, _mm512_set1_epi8(86));
  const __mmask64 ge2 = _mm512_cmpge_epu8_mask(bytes, _mm512_set1_epi8(static_cast<char>(171)));
  return _mm512_mask_mov_epi8(_mm512_maskz_mov_epi8(ge1, _mm512_set1_epi8(1)), ge2,
                              _mm512_set1_epi8(2));
}

#ifdef __AVX512VBMI__  // quant_matmul_avx512_vbmi.cc: base-3 digits through a byte table.

// Digits 1..4 of every byte value b, digit p in bits 2p - 2 and 2p - 1: the top trit of
// (b * 3^p) mod 256, as the arithmetic form below computes them.
struct Base3Table {
  alignas(64) std::uint8_t packed[256];
};

constexpr Base3Table MakeBase3Table() {
  Base3Table t{};
  for (int b = 0; b < 256; ++b) {
    for (int p = 1, state = b * 3 % 256; p < 5; ++p, state = state * 3 % 256) {
      t.packed[b] = static_cast<std::uint8_t>(t.packed[b] | (state * 3 / 256) << (2 * p - 2));
    }
  }
  return t;
}

inline constexpr Base3Table kBase3Table = MakeBase3Table();

// kBase3Table.packed[b] for 64 bytes b: vpermi2b looks 128 entries up by the low 7 bits, so
// both halves are looked up and the top bit chooses.
inline __m512i Base3Packed(__m512i bytes) {
  const std::uint8_t* t = kBase3Table.packed;
  return _mm512_mask_blend_epi8(
      _mm512_movepi8_mask(bytes),
      _mm512_permutex2var_epi8(_mm512_load_si512(t), bytes, _mm512_load_si512(t + 64)),
      _mm512_permutex2var_epi8(_mm512_load_si512(t + 128), bytes, _mm512_load_si512(t + 192)));
}

// Digit 0 by compares, then state becomes the table's packed digits 1..4, 2 bits each: 15
// operations for 5 digits, where the arithmetic form takes 6 per digit.
inline __m512i NextBase3Digit(__m512i& state, int s) {
  if (s == 0) {
    const __m512i digit = TopTrit(state);
    state = Base3Packed(state);
    return digit;
  }
  return _mm512_and_si512(_mm512_srli_epi16(state, 2 * s - 2), _mm512_set1_epi8(3));
}

#else

// Digit s is the top trit of stored * 3^s mod 256, which state keeps.
inline __m512i NextBase3Digit(__m512i& state, int s) {
  if (s > 0) state = _mm512_add_epi8(_mm512_add_epi8(state, state), state);
  return TopTrit(state);
}

#endif

// Digit s of 64 stored bytes (see QuantLayout), for s = 0, 1, ... in order: state starts
// as the bytes themselves.
template <WeightFormat K>
inline __m512i NextDigit(__m512i& state, int s) {
  if constexpr (K == WeightFormat::kTernaryBase3) {
    return NextBase3Digit(state, s);
  } else {
    return _mm512_and_si512(_mm512_srli_epi16(state, 2 * s), _mm512_set1_epi8(3));
  }
}

// A codebook row group's 7-bit steps at byte indices 0..3 of every 32-bit lane, the table
// vpshufb looks 2-bit indices up in. Built in registers: byte stores then a vector load
// would stall store forwarding.
inline __m512i CodebookSteps(const QuantCodebook& book) {
  const std::uint8_t* st = book.steps;
  return _mm512_set1_epi32(st[0] | st[1] << 8 | st[2] << 16 | st[3] << 24);
}

// All digits of 64 stored bytes, one vector per digit position s.
template <WeightFormat K>
inline void Decode(__m512i bytes, __m512i digits[kDigits<K>]) {
  for (int s = 0; s < kDigits<K>; ++s) digits[s] = NextDigit<K>(bytes, s);
}

// RowLanes's decoding of 64 stored bytes into one vector per digit position, and the sum of
// the per-digit integer accumulators. 2-bit codes are masked in place where that is
// exact: with vpdpbusd, digit s of a byte masked by 3 << 2s is the code times 4^s, and the
// sums are divided back (exactly) in Combine, so a byte costs one mask per digit and no
// shift. vpmaddubsw would saturate on such products (pairs above 2^15), so without VNNI
// the byte is shifted by 4 once and digits are masked by 0x03 and 0x0C (times 1 and 4).
// Codebook indices go through a table (vpshufb) laid out for those masked values.
template <bool kVnni, WeightFormat K>
struct DigitDecoder {
  __m512i table1 = _mm512_setzero_si512();  // Codebook steps at indices 0, 1, 2, 3.
  __m512i table4 = _mm512_setzero_si512();  // Codebook steps at indices 0, 4, 8, 12.

  explicit DigitDecoder(const QuantCodebook* book) {
    if constexpr (K == WeightFormat::kCodebook2Bit) {
      const std::uint8_t* st = book->steps;
      table1 = CodebookSteps(*book);
      table4 = _mm512_broadcast_i32x4(_mm_setr_epi32(st[0], st[1], st[2], st[3]));
    }
  }

  void Decode(__m512i bytes, __m512i digits[kDigits<K>]) const {
    if constexpr (K == WeightFormat::kTernaryBase3) {
      internal::Decode<K>(bytes, digits);
    } else if constexpr (K == WeightFormat::kTernary2Bit && kVnni) {
      for (int s = 0; s < 4; ++s) {
        digits[s] = _mm512_and_si512(bytes, _mm512_set1_epi8(static_cast<char>(3 << (2 * s))));
      }
    } else {
      const __m512i high = _mm512_srli_epi16(bytes, 4);
      const __m512i mask1 = _mm512_set1_epi8(0x03), mask4 = _mm512_set1_epi8(0x0c);
      digits[0] = _mm512_and_si512(bytes, mask1);
      digits[1] = _mm512_and_si512(bytes, mask4);
      digits[2] = _mm512_and_si512(high, mask1);
      digits[3] = _mm512_and_si512(high, mask4);
      if constexpr (K == WeightFormat::kCodebook2Bit) {
        digits[0] = _mm512_shuffle_epi8(table1, digits[0]);
        digits[1] = _mm512_shuffle_epi8(table4, digits[1]);
        digits[2] = _mm512_shuffle_epi8(table1, digits[2]);
        digits[3] = _mm512_shuffle_epi8(table4, digits[3]);
      }
    }
  }

  __m512i Combine(const __m512i acc[kDigits<K>]) const {
    if constexpr (K == WeightFormat::kTernary2Bit && kVnni) {
      return _mm512_add_epi32(
          _mm512_add_epi32(acc[0], _mm512_srai_epi32(acc[1], 2)),
          _mm512_add_epi32(_mm512_srai_epi32(acc[2], 4), _mm512_srai_epi32(acc[3], 6)));
    } else if constexpr (K == WeightFormat::kTernary2Bit) {
      return _mm512_add_epi32(_mm512_add_epi32(acc[0], acc[2]),
                              _mm512_srai_epi32(_mm512_add_epi32(acc[1], acc[3]), 2));
    } else {
      __m512i sum = acc[0];
      for (int s = 1; s < kDigits<K>; ++s) sum = _mm512_add_epi32(sum, acc[s]);
      return sum;
    }
  }
};

#ifdef __AVX512VBMI__

// The one-token kernel's base-3 decoding: NextBase3Digit's table, but digits 1..4 masked
// in place (times 4^(p-1)), as 2-bit codes are, and divided back in Combine.
template <bool kVnni>
struct DigitDecoder<kVnni, WeightFormat::kTernaryBase3> {
  explicit DigitDecoder(const QuantCodebook*) {}

  void Decode(__m512i bytes, __m512i digits[5]) const {
    digits[0] = TopTrit(bytes);
    const __m512i packed = Base3Packed(bytes);
    for (int p = 1; p < 5; ++p) {
      digits[p] = _mm512_and_si512(packed, _mm512_set1_epi8(static_cast<char>(3 << (2 * p - 2))));
    }
  }

  __m512i Combine(const __m512i acc[5]) const {
    return _mm512_add_epi32(
        _mm512_add_epi32(_mm512_add_epi32(acc[0], acc[1]), _mm512_srai_epi32(acc[2], 2)),
        _mm512_add_epi32(_mm512_srai_epi32(acc[3], 4), _mm512_srai_epi32(acc[4], 6)));
  }
};

#endif

// 32-bit lane b holds the tail bytes of block b, zero-extended.
inline __m512i LoadTail(const std::uint8_t* p, std::size_t tail_bytes) {
  if (tail_bytes == 1)
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

inline __m512i Load64(const void* p) { return _mm512_loadu_si512(p); }

inline std::size_t GroupBlocks(const QuantLayout& l, std::size_t group) {
  const std::size_t left = l.blocks_per_row - group * kQuantGroupBlocks;
  return left < kQuantGroupBlocks ? left : kQuantGroupBlocks;
}

// R weight rows against T tokens starting at t0: every activation vector loaded feeds R
// rows, so that at n = 8 the activations (too big for L1) are read from L2 R times less.
template <bool kVnni, WeightFormat K, int R, int T>
void Tile(const QuantWeights& w, const PackedActivations& x, const std::size_t* rows,
          std::size_t t0, float* y, std::size_t ldy) {
  constexpr int kD = kDigits<K>;
  const QuantLayout& l = w.layout();
  const std::uint8_t* codes[R];
  const std::uint16_t* scales[R];
  const QuantCodebook* books[R];
  __m512i lut[R];
  __m512 alpha[R], beta[R];  // Codebook: entry = offset + step * steps[index].
  for (int r = 0; r < R; ++r) {
    codes[r] = w.row_codes(rows[r]);
    scales[r] = w.row_scales(rows[r]);
    books[r] = w.row_codebook(rows[r]);
    alpha[r] = beta[r] = _mm512_setzero_ps();
    lut[r] = _mm512_setzero_si512();
    if constexpr (K == WeightFormat::kCodebook2Bit) {
      alpha[r] = _mm512_set1_ps(books[r]->step);
      beta[r] = _mm512_set1_ps(books[r]->offset);
      lut[r] = CodebookSteps(*books[r]);
    }
  }
  const std::int8_t* values = x.values + t0 * l.activation_bytes;
  const std::size_t group_values = l.slots_per_group * kD * 64;

  // Float sums live in memory: they change once per group, and registers are all taken by
  // the integer accumulators, the decoded codes and the tables.
  alignas(64) float dots[R][T][16] = {};
  for (std::size_t g = 0; g < l.groups_per_row; ++g) {
    const std::size_t stride = 4 * GroupBlocks(l, g);
    const std::size_t group_offset = g * kQuantGroupBlocks * l.block_bytes;
    const std::int8_t* group_x = values + g * group_values;
    __m512i acc[R][T];
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_si512();
    }
    for (std::size_t s_index = 0; s_index < l.slots_per_group; ++s_index) {
      const bool tail = s_index == l.full_words;
      __m512i state[R];
      for (int r = 0; r < R; ++r) {
        const std::uint8_t* p = codes[r] + group_offset + s_index * stride;
        state[r] = tail ? LoadTail(p, l.tail_bytes) : Load64(p);
      }
      // One digit of every row at a time: decoding all digits first would need R * kD
      // registers next to the R * T accumulators, and spilled at n >= 4. Unrolled: GCC kept
      // the loop, copied the accumulators through the stack on every digit and took base-3's
      // first-digit branch at run time.
#pragma GCC unroll 5
      for (int s = 0; s < kD; ++s) {
        __m512i digit[R];
        for (int r = 0; r < R; ++r) {
          digit[r] = NextDigit<K>(state[r], s);
          if constexpr (K == WeightFormat::kCodebook2Bit) {
            digit[r] = _mm512_shuffle_epi8(lut[r], digit[r]);
          }
        }
        const std::int8_t* xs = group_x + (s_index * kD + s) * 64;
        for (int t = 0; t < T; ++t) {
          const __m512i xv = Load64(xs + t * l.activation_bytes);
          for (int r = 0; r < R; ++r) acc[r][t] = Dot<kVnni>(acc[r][t], digit[r], xv);
        }
      }
    }
    // The block sums' term folds in here too: per lane, (alpha * dot + beta * sum) * scale.
    __m512 sums[T];
    for (int t = 0; t < T; ++t) {
      sums[t] =
          _mm512_loadu_ps(x.block_sums + (t0 + t) * x.block_sums_stride + g * kQuantGroupBlocks);
    }
    for (int r = 0; r < R; ++r) {
      const __m512 scale = _mm512_cvtph_ps(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales[r] + g * kQuantGroupBlocks)));
      for (int t = 0; t < T; ++t) {
        const __m512 dot = _mm512_cvtepi32_ps(acc[r][t]);
        __m512 lane;
        if constexpr (K == WeightFormat::kCodebook2Bit) {
          lane = _mm512_fmadd_ps(dot, alpha[r], _mm512_mul_ps(sums[t], beta[r]));
        } else {  // Stored codes are the ternary value plus 1.
          lane = _mm512_sub_ps(dot, sums[t]);
        }
        _mm512_store_ps(dots[r][t], _mm512_fmadd_ps(lane, scale, _mm512_load_ps(dots[r][t])));
      }
    }
  }
  if constexpr (R * T == 16) {
    // One transposing reduction for the 16 sums of a full tile, as ConsecutiveRows does, where
    // 16 separate ones take ~130 shuffles and adds: 5-10% of a 4 x 4 tile's time at TinyLlama's
    // 2048 and 5632 columns (thread CPU time, 1024 rows in L2, n = 4 and 8, Xeon VM).
    __m512 lanes[16];
    for (int i = 0; i < 16; ++i) lanes[i] = _mm512_load_ps(dots[i % R][i / R]);
    alignas(64) float sums_out[16];
    Avx512Vec::ReduceAddMany(lanes, sums_out);
    for (int i = 0; i < 16; ++i) y[(i / R) * ldy + i % R] = x.scales[t0 + i / R] * sums_out[i];
  } else {
    for (int r = 0; r < R; ++r) {
      for (int t = 0; t < T; ++t) {
        y[t * ldy + r] = x.scales[t0 + t] * _mm512_reduce_add_ps(_mm512_load_ps(dots[r][t]));
      }
    }
  }
}

// One row against one token, the decode case, as 16 per-lane partial sums (one lane per
// block of a group). Rows go one at a time so that the codes are one linear stream: reading
// four rows side by side (as Tile does) measured ~2x slower from memory on Zen 5, though
// faster from cache. Each digit position sums into its own integer accumulator (one chain
// of vpdpbusd would be bound by its latency); the sums fold into floats once per group.
// kSlots > 0 is the layout's count of full words (the 2-bit formats at block sizes 64 and
// 128, base 3 at 64 and 256, a tail slot after them): the words then unroll, and GCC no
// longer copies the accumulators between registers on every slot, as it does in the
// counted loop.
// kStream: the rows are read in order (ConsecutiveRows), so the stream is prefetched ahead.
template <bool kVnni, WeightFormat K, int kSlots, bool kStream>
[[gnu::always_inline]] inline __m512 RowLanes(const QuantWeights& w, const PackedActivations& x,
                                              std::size_t row) {
  constexpr int kD = kDigits<K>;
  const QuantLayout& l = w.layout();
  const std::uint8_t* codes = w.row_codes(row);
  const std::uint16_t* scales = w.row_scales(row);
  const QuantCodebook* book = w.row_codebook(row);
  const DigitDecoder<kVnni, K> decoder(book);
  const std::size_t group_values = l.slots_per_group * kD * 64;
  const __m512 alpha = _mm512_set1_ps(book ? book->step : 0.0f);
  const __m512 beta = _mm512_set1_ps(book ? book->offset : 0.0f);
  __m512 dots = _mm512_setzero_ps();
  for (std::size_t g = 0; g < l.groups_per_row; ++g) {
    const std::size_t stride = 4 * GroupBlocks(l, g);
    const std::uint8_t* p = codes + g * kQuantGroupBlocks * l.block_bytes;
    const std::int8_t* xs = x.values + g * group_values;
    __m512i acc[kD];
    for (int s = 0; s < kD; ++s) acc[s] = _mm512_setzero_si512();
    const auto accumulate = [&](const std::uint8_t* word, bool tail) {
      if constexpr (kStream)
        PrefetchL2(reinterpret_cast<std::uintptr_t>(word) + kStreamPrefetchBytes);
      const __m512i bytes = tail ? LoadTail(word, l.tail_bytes) : Load64(word);
      __m512i digits[kD];
      decoder.Decode(bytes, digits);
      for (int s = 0; s < kD; ++s, xs += 64) acc[s] = Dot<kVnni>(acc[s], digits[s], Load64(xs));
    };
    if constexpr (kSlots > 0) {
#pragma GCC unroll 16
      for (int s_index = 0; s_index < kSlots; ++s_index, p += stride) accumulate(p, false);
    } else {
      for (std::size_t s_index = 0; s_index < l.full_words; ++s_index, p += stride) {
        accumulate(p, false);
      }
    }
    // The tail slot outside the loop: a branch inside it made GCC copy every accumulator
    // between registers on each iteration.
    if (l.slots_per_group > l.full_words) accumulate(p, true);
    const __m512 scale = _mm512_cvtph_ps(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + g * kQuantGroupBlocks)));
    const __m512 dot = _mm512_cvtepi32_ps(decoder.Combine(acc));
    const __m512 sums = _mm512_loadu_ps(x.block_sums + g * kQuantGroupBlocks);
    __m512 lane;  // As in Tile: (alpha * dot + beta * sum) per lane.
    if constexpr (K == WeightFormat::kCodebook2Bit) {
      lane = _mm512_fmadd_ps(dot, alpha, _mm512_mul_ps(sums, beta));
    } else {
      lane = _mm512_sub_ps(dot, sums);
    }
    dots = _mm512_fmadd_ps(lane, scale, dots);
  }
  return dots;
}

// y[i] = row first + i against the one token, i < count.
template <bool kVnni, WeightFormat K, int kSlots>
void ConsecutiveRows(const QuantWeights& w, const PackedActivations& x, std::size_t first,
                     std::size_t count, float* y) {
  const __m512 token_scale = _mm512_set1_ps(x.scales[0]);
  std::size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    __m512 lanes[16];
    for (int r = 0; r < 16; ++r) lanes[r] = RowLanes<kVnni, K, kSlots, true>(w, x, first + i + r);
    // One transposing reduction for the 16 rows, where 16 separate ones take about 130
    // shuffles and adds and a dependency chain each.
    Avx512Vec::ReduceAddMany(lanes, y + i);
    _mm512_storeu_ps(y + i, _mm512_mul_ps(token_scale, _mm512_loadu_ps(y + i)));
  }
  for (; i < count; ++i) {
    y[i] = x.scales[0] * _mm512_reduce_add_ps(RowLanes<kVnni, K, kSlots, true>(w, x, first + i));
  }
}

template <bool kVnni, WeightFormat K>
void ConsecutiveRows(const QuantWeights& w, const PackedActivations& x, std::size_t first,
                     std::size_t count, float* y) {
  const QuantLayout& l = w.layout();
  if constexpr (K != WeightFormat::kTernaryBase3) {
    if (l.full_words == 4) return ConsecutiveRows<kVnni, K, 4>(w, x, first, count, y);
    if (l.full_words == 8) return ConsecutiveRows<kVnni, K, 8>(w, x, first, count, y);
  } else if constexpr (kVnni) {
    // Base 3 at block sizes 64 and 256 (128 has 6 words). Without VNNI, 13 unrolled words
    // measured 10% slower than the loop (256x4096 in L2).
    if (l.full_words == 3) return ConsecutiveRows<kVnni, K, 3>(w, x, first, count, y);
    if (l.full_words == 13) return ConsecutiveRows<kVnni, K, 13>(w, x, first, count, y);
  }
  ConsecutiveRows<kVnni, K, 0>(w, x, first, count, y);
}

template <bool kVnni, WeightFormat K, int R>
void TileTokens(const QuantWeights& w, const PackedActivations& x, const std::size_t* rows,
                float* y, std::size_t ldy) {
  for (std::size_t t0 = 0; t0 < x.n; t0 += kMaxTokens) {
    float* out = y + t0 * ldy;
    switch (x.n - t0) {
      case 1:
        Tile<kVnni, K, R, 1>(w, x, rows, t0, out, ldy);
        break;
      case 2:
        Tile<kVnni, K, R, 2>(w, x, rows, t0, out, ldy);
        break;
      case 3:
        Tile<kVnni, K, R, 3>(w, x, rows, t0, out, ldy);
        break;
      default:
        Tile<kVnni, K, R, 4>(w, x, rows, t0, out, ldy);
        break;
    }
  }
}

// Rows four at a time (the outputs of a tile are consecutive), the last few one at a time.
template <bool kVnni, WeightFormat K>
void Rows(const QuantWeights& w, const PackedActivations& x, const std::uint32_t* rows,
          std::size_t first, std::size_t count, float* y, std::size_t ldy) {
  std::size_t i = 0;
  if (x.n == 1 && rows == nullptr) return ConsecutiveRows<kVnni, K>(w, x, first, count, y);
  if (x.n == 1) {
    for (std::size_t j = 0; j < kPrefetchRows && j < count; ++j) PrefetchRow(w, rows[j]);
    for (; i < count; ++i) {
      // Listed rows are scattered, which the hardware prefetchers do not predict.
      if (i + kPrefetchRows < count) PrefetchRow(w, rows[i + kPrefetchRows]);
      y[i] = x.scales[0] * _mm512_reduce_add_ps(RowLanes<kVnni, K, 0, false>(w, x, rows[i]));
    }
    return;
  }
  if (rows != nullptr) {  // The rows the loop below does not prefetch.
    for (std::size_t j = 0; j < kPrefetchTiles * kTileRows && j < count; ++j) {
      PrefetchRow(w, rows[j]);
    }
  }
  for (; i + kTileRows <= count; i += kTileRows) {
    // Listed rows are scattered, which the hardware prefetchers do not predict: fetch rows
    // kPrefetchTiles tiles ahead, far enough to cover the memory latency (one tile ahead
    // measured no faster than none).
    if (rows != nullptr) {
      for (std::size_t j = i + kPrefetchTiles * kTileRows;
           j < i + (kPrefetchTiles + 1) * kTileRows && j < count; ++j) {
        PrefetchRow(w, rows[j]);
      }
    }
    std::size_t tile_rows[kTileRows];
    for (int r = 0; r < kTileRows; ++r) tile_rows[r] = rows ? rows[i + r] : first + i + r;
    TileTokens<kVnni, K, kTileRows>(w, x, tile_rows, y + i, ldy);
  }
  for (; i < count; ++i) {
    const std::size_t row = rows ? rows[i] : first + i;
    TileTokens<kVnni, K, 1>(w, x, &row, y + i, ldy);
  }
}

template <bool kVnni>
void MatMulQuantRows(const QuantWeights& w, const PackedActivations& x, const std::uint32_t* rows,
                     std::size_t first, std::size_t count, float* y, std::size_t ldy) {
  switch (w.format()) {
    case WeightFormat::kTernary2Bit:
      return Rows<kVnni, WeightFormat::kTernary2Bit>(w, x, rows, first, count, y, ldy);
    case WeightFormat::kTernaryBase3:
      return Rows<kVnni, WeightFormat::kTernaryBase3>(w, x, rows, first, count, y, ldy);
    case WeightFormat::kCodebook2Bit:
      return Rows<kVnni, WeightFormat::kCodebook2Bit>(w, x, rows, first, count, y, ldy);
    case WeightFormat::kF32:
    case WeightFormat::kBF16:
    case WeightFormat::kF16:
      return;  // No QuantWeights holds a dense format (quant_matmul.h).
  }
}

}  // namespace
}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_QUANT_AVX512_KERNELS_H_
