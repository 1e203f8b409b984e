// Internal to kernels/cpu: the fp32-activation low-bit kernel (MatMulQuantF32), written once
// over a code type that pairs a vector type of vec.h (C::F, kWidth floats) with its ISA's
// integer operations; quant_f32_avx2.cc and quant_f32_avx512.cc compile it per ISA.
// Internal linkage and no standard-library templates, for the reason given in
// matmul_avx2.cc.
//
// A slot of a group (QuantLayout) holds 4 code bytes per block lane. Shifted right by
// 8k + 2s, a lane's low bits start with digit s of byte k (2-bit formats; base-3 digits are
// decoded to whole bytes first); a vpermps table that repeats the 4 values of a row (-1,
// 0, 1 ternary, the codebook entries) turns them into fp32 weights, one per block lane,
// which multiply the activations at float 16k + lane of that digit's 64 (quant_internal.h).
// The products of a group sum per lane, that is per block, and are scaled once per group.
#ifndef GHOST_KERNELS_CPU_QUANT_F32_KERNEL_H_
#define GHOST_KERNELS_CPU_QUANT_F32_KERNEL_H_

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/quant_internal.h"
#include "kernels/cpu/vec.h"

namespace ghost::kernels::internal {
namespace {

// The values of stored ternary codes 0..3 (3 is invalid in the format and decodes as
// DequantizeQuantRow does).
constexpr float kTernaryValues[4] = {-1.0f, 0.0f, 1.0f, 2.0f};

template <WeightFormat K>
constexpr int kF32Digits = TraitsOf(K).codes_per_byte;

inline std::size_t F32GroupBlocks(const QuantLayout& l, std::size_t group) {
  const std::size_t left = l.blocks_per_row - group * kQuantGroupBlocks;
  return left < kQuantGroupBlocks ? left : kQuantGroupBlocks;
}

// The code vectors of R consecutive rows, as the tile loop needs them.
template <typename C, int R>
struct TileRows {
  const std::uint8_t* codes[R];
  const std::uint16_t* scales[R];
  typename C::F::V table[R];
};

// Products of slot `slot` of one group (kBytes code bytes per lane: 4, or the tail's) of R
// rows with T tokens, into acc[r][t][a] (A accumulators per row and token, so that the
// additions do not wait on each other).
template <typename C, WeightFormat K, int R, int T, int A, int kBytes>
[[gnu::always_inline]] inline void SlotProducts(const QuantLayout& l, const TileRows<C, R>& tile,
                                                std::size_t offset, std::size_t slot, int half,
                                                const float* group_x,
                                                typename C::F::V (&acc)[R][T][A]) {
  using F = typename C::F;
  constexpr int kD = kF32Digits<K>;
  typename C::I state[R];
  for (int r = 0; r < R; ++r) {
    const std::uint8_t* p = tile.codes[r] + offset;
    if constexpr (kBytes == 4) {
      state[r] = C::Load(p, half);
    } else {
      state[r] = C::LoadTail(p, kBytes, half);
    }
  }
  for (int s = 0; s < kD; ++s) {
    typename C::I source[R];
    for (int r = 0; r < R; ++r) {
      if constexpr (K == WeightFormat::kTernaryBase3) {
        source[r] = C::NextBase3Digit(state[r], s);
      } else {
        source[r] = state[r];
      }
    }
    const float* xs = group_x + (slot * kD + s) * 64 + F::kWidth * half;
    for (int k = 0; k < kBytes; ++k) {
      const int shift = 8 * k + (K == WeightFormat::kTernaryBase3 ? 0 : 2 * s);
      typename F::V value[R];
      for (int r = 0; r < R; ++r) value[r] = C::Lookup(source[r], shift, tile.table[r]);
      for (int t = 0; t < T; ++t) {
        const typename F::V xv = F::Load(xs + t * l.activation_bytes + 16 * k);
        for (int r = 0; r < R; ++r) acc[r][t][k % A] = F::Fma(value[r], xv, acc[r][t][k % A]);
      }
    }
  }
}

// Rows row0 .. row0 + R - 1 against tokens x[0 .. T): y[t * ldy + r].
template <typename C, WeightFormat K, int R, int T, int A>
void F32Tile(const QuantWeights& w, const float* x, std::size_t row0, float* y, std::size_t ldy) {
  using F = typename C::F;
  using V = typename F::V;
  constexpr int kHalves = 16 / F::kWidth;
  const QuantLayout& l = w.layout();
  TileRows<C, R> tile;
  for (int r = 0; r < R; ++r) {
    tile.codes[r] = w.row_codes(row0 + r);
    tile.scales[r] = w.row_scales(row0 + r);
    const QuantCodebook* book = w.row_codebook(row0 + r);
    tile.table[r] = C::Table(book ? book->entries : kTernaryValues);
  }
  const std::size_t group_values = l.slots_per_group * kF32Digits<K> * 64;
  // Per block lane; changed once per group, so kept in memory next to the accumulators.
  alignas(64) float total[R][T][16] = {};
  for (std::size_t g = 0; g < l.groups_per_row; ++g) {
    const std::size_t stride = 4 * F32GroupBlocks(l, g);
    const std::size_t group_offset = g * kQuantGroupBlocks * l.block_bytes;
    const float* group_x = x + g * group_values;
    for (int h = 0; h < kHalves; ++h) {
      V acc[R][T][A];
      for (int r = 0; r < R; ++r) {
        for (int t = 0; t < T; ++t) {
          for (int a = 0; a < A; ++a) acc[r][t][a] = F::Set(0.0f);
        }
      }
      for (std::size_t slot = 0; slot < l.full_words; ++slot) {
        SlotProducts<C, K, R, T, A, 4>(l, tile, group_offset + slot * stride, slot, h, group_x,
                                       acc);
      }
      const std::size_t tail_offset = group_offset + l.full_words * stride;
      if (l.tail_bytes == 1) {
        SlotProducts<C, K, R, T, A, 1>(l, tile, tail_offset, l.full_words, h, group_x, acc);
      } else if (l.tail_bytes == 2) {
        SlotProducts<C, K, R, T, A, 2>(l, tile, tail_offset, l.full_words, h, group_x, acc);
      }
      for (int r = 0; r < R; ++r) {
        const V scale = C::LoadScales(tile.scales[r] + g * kQuantGroupBlocks + F::kWidth * h);
        for (int t = 0; t < T; ++t) {
          V sum = acc[r][t][0];
          for (int a = 1; a < A; ++a) sum = F::Add(sum, acc[r][t][a]);
          float* lanes = total[r][t] + F::kWidth * h;
          F::Store(lanes, F::Fma(sum, scale, F::Load(lanes)));
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) {
      float sum = 0;
      for (int h = 0; h < kHalves; ++h) sum += F::ReduceAdd(F::Load(total[r][t] + F::kWidth * h));
      y[t * ldy + r] = sum;
    }
  }
}

// F32Tile for the largest token count up to T that `left` tokens fill.
template <typename C, WeightFormat K, int R, int T>
void F32TileUpTo(const QuantWeights& w, const float* x, std::size_t left, std::size_t row0,
                 float* y, std::size_t ldy) {
  if constexpr (T > 1) {
    if (left < T) return F32TileUpTo<C, K, R, T - 1>(w, x, left, row0, y, ldy);
  }
  F32Tile<C, K, R, T, 1>(w, x, row0, y, ldy);
}

// R rows against all n tokens, C::kMaxTokens at a time.
template <typename C, WeightFormat K, int R>
void F32TileTokens(const QuantWeights& w, const float* x, std::size_t n, std::size_t row0, float* y,
                   std::size_t ldy) {
  const std::size_t x_stride = w.layout().activation_bytes;
  for (std::size_t t0 = 0; t0 < n; t0 += C::kMaxTokens) {
    F32TileUpTo<C, K, R, C::kMaxTokens>(w, x + t0 * x_stride, n - t0, row0, y + t0 * ldy, ldy);
  }
}

// One token: rows one at a time (their codes one linear stream), C::kChainsOneToken<K>
// accumulators each. Several tokens: C::kTileRows rows at a time, each decoded weight
// feeding every token and each activation vector every row.
template <typename C, WeightFormat K>
void F32Rows(const QuantWeights& w, const float* x, std::size_t n, std::size_t first,
             std::size_t count, float* y, std::size_t ldy) {
  std::size_t i = 0;
  if (n == 1) {
    for (; i < count; ++i) {
      F32Tile<C, K, 1, 1, C::template kChainsOneToken<K>>(w, x, first + i, y + i, ldy);
    }
    return;
  }
  for (; i + C::kTileRows <= count; i += C::kTileRows) {
    F32TileTokens<C, K, C::kTileRows>(w, x, n, first + i, y + i, ldy);
  }
  for (; i < count; ++i) F32TileTokens<C, K, 1>(w, x, n, first + i, y + i, ldy);
}

template <typename C>
void F32RowsAnyFormat(const QuantWeights& w, const float* x, std::size_t n, std::size_t first,
                      std::size_t count, float* y, std::size_t ldy) {
  switch (w.format()) {
    case WeightFormat::kTernary2Bit:
      return F32Rows<C, WeightFormat::kTernary2Bit>(w, x, n, first, count, y, ldy);
    case WeightFormat::kTernaryBase3:
      return F32Rows<C, WeightFormat::kTernaryBase3>(w, x, n, first, count, y, ldy);
    case WeightFormat::kCodebook2Bit:
      return F32Rows<C, WeightFormat::kCodebook2Bit>(w, x, n, first, count, y, ldy);
    case WeightFormat::kF32:
    case WeightFormat::kBF16:
    case WeightFormat::kF16:
      return;  // No QuantWeights holds a dense format (quant_matmul.h).
  }
}

}  // namespace
}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_QUANT_F32_KERNEL_H_
