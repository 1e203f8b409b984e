// AMX low-bit products (this file alone is compiled with the AMX and AVX-512 flags; see
// kernels/CMakeLists.txt). Internal linkage and no standard-library templates, for the
// reason given in matmul_avx2.cc.
//
// Per task: weight rows in tiles of 16, each row group's (16 blocks') codes decoded once
// to int8 into a stack scratch (16 KiB at block 64), then for every tile of 16 tokens and
// every block one tdpbssd per 64 codes (16 rows x 16 tokens x 64 products) into an int32
// tile, stored and folded into 16 fp32 accumulators (one per row, 16 tokens each) with the
// block's scales. The K order inside a block is the activation layout's (slot, digit,
// byte), so that the decode is the AVX-512 kernels' shift and mask and the activations are
// the ones PackActivations already wrote, only interleaved 16 tokens at a time.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/amx_tiles.h"
#include "kernels/cpu/quant_internal.h"

namespace ghost::kernels::internal {
namespace {

constexpr std::size_t kTileRows = 16;
constexpr std::size_t kTileTokens = 16;
// Token tiles whose fp32 accumulators one pass keeps (8 KiB); larger calls take passes.
constexpr std::size_t kMaxTokenTiles = 8;
constexpr std::size_t kMaxBlockBytes = 256;  // Codes of the largest block, decoded.

// Tiles (GCC's tile intrinsics are macros that paste the tile number into the assembly, so
// the calls below spell them as literals): 0-3 int32 products of 4 blocks, 4-5 decoded
// weights, 6-7 activations.

struct Shape {
  std::size_t block_words;  // Dwords of decoded codes per block (K / 4).
  std::size_t k_bytes;      // K of one tdpbssd: 64, or the whole block where shorter.
  std::size_t k_steps;      // tdpbssd per block.
  std::size_t padded_blocks;
};

Shape ShapeOf(const QuantWeights& w) {
  const QuantLayout& l = w.layout();
  Shape s;
  s.block_words = l.full_words * l.digits;
  s.k_bytes = s.block_words * 4 < 64 ? s.block_words * 4 : 64;
  s.k_steps = s.block_words * 4 / s.k_bytes;
  s.padded_blocks = l.groups_per_row * kQuantGroupBlocks;
  return s;
}

// Word w of a block as its 4 digits' int8 values: dword d of the result (d = 4 w' + digit,
// for the 4 words w' of `words`) is word w' shifted right by 2 * digit, masked to the digit
// in every byte, and looked up in `values` (bytes 0..3 of each 128-bit lane).
inline __m512i DecodeWords(__m512i words, __m512i lane_index, __m512i values) {
  const __m512i spread = _mm512_permutexvar_epi32(lane_index, words);
  const __m512i shifts = _mm512_set_epi32(6, 4, 2, 0, 6, 4, 2, 0, 6, 4, 2, 0, 6, 4, 2, 0);
  const __m512i digits = _mm512_and_si512(_mm512_srlv_epi32(spread, shifts), _mm512_set1_epi8(3));
  return _mm512_shuffle_epi8(values, digits);
}

// What each stored digit of `row` multiplies: the ternary value (digit - 1), or the row
// group's 7-bit codebook step.
inline __m512i DigitValues(const QuantWeights& w, std::size_t row) {
  const QuantCodebook* book = w.row_codebook(row);
  const std::uint32_t packed = book ? book->steps[0] | book->steps[1] << 8 | book->steps[2] << 16 |
                                          static_cast<std::uint32_t>(book->steps[3]) << 24
                                    : 0x000100ffu;  // -1, 0, 1
  return _mm512_set1_epi32(static_cast<int>(packed));
}

inline __m512i LaneIndex(int lane) {
  const int q = 4 * lane;
  return _mm512_set_epi32(q + 3, q + 3, q + 3, q + 3, q + 2, q + 2, q + 2, q + 2, q + 1, q + 1,
                          q + 1, q + 1, q, q, q, q);
}

// Decodes one row's blocks of group `group` into row r of a's tiles: block b's dword j
// (j = 4 word + digit) at a + ((b * k_steps + j / 16) * kTileRows + r) * k_bytes + 4 * (j % 16).
void DecodeRowGroup(const QuantWeights& w, const Shape& s, std::size_t row, std::size_t group,
                    std::size_t r, std::int8_t* a) {
  const QuantLayout& l = w.layout();
  const __m512i values = DigitValues(w, row);
  const std::size_t first_block = group * kQuantGroupBlocks;
  const std::size_t blocks = l.blocks_per_row - first_block < kQuantGroupBlocks
                                 ? l.blocks_per_row - first_block
                                 : kQuantGroupBlocks;
  const std::uint8_t* codes = w.row_codes(row) + first_block * l.block_bytes;
  const std::size_t word_stride = 4 * blocks;  // Word s of block b at s * word_stride + 4 * b.
  const std::size_t words = l.full_words;
  // Words come 4 at a time (64 decoded bytes, one tile row of K at block 64 and up) or all
  // of a shorter block's (one row of its narrower tile).
  auto store = [&](std::size_t b, std::size_t word, __m512i decoded)
      __attribute__((always_inline)) {
    std::int8_t* out = a + ((b * s.k_steps + word / 4) * kTileRows + r) * s.k_bytes;
    const std::size_t n = words - word < 4 ? words - word : 4;  // Words in this vector.
    _mm512_mask_storeu_epi32(out, static_cast<__mmask16>((1u << (4 * n)) - 1), decoded);
  };
  // 4 words of every block of the group in 4 (masked) loads, transposed so that each 128-bit
  // lane L of u[j] holds block 4 L + j's 4 words.
  const __mmask16 present = static_cast<__mmask16>((1u << blocks) - 1);
  for (std::size_t word = 0; word < words; word += 4) {
    const std::uint8_t* p = codes + word * word_stride;
    __m512i v[4];
#pragma GCC unroll 4
    for (std::size_t i = 0; i < 4; ++i) {
      v[i] = word + i < words ? _mm512_maskz_loadu_epi32(present, p + i * word_stride)
                              : _mm512_setzero_si512();
    }
    const __m512i lo01 = _mm512_unpacklo_epi32(v[0], v[1]),
                  hi01 = _mm512_unpackhi_epi32(v[0], v[1]);
    const __m512i lo23 = _mm512_unpacklo_epi32(v[2], v[3]),
                  hi23 = _mm512_unpackhi_epi32(v[2], v[3]);
    const __m512i u[4] = {_mm512_unpacklo_epi64(lo01, lo23), _mm512_unpackhi_epi64(lo01, lo23),
                          _mm512_unpacklo_epi64(hi01, hi23), _mm512_unpackhi_epi64(hi01, hi23)};
    if (blocks == kQuantGroupBlocks) {
#pragma GCC unroll 4
      for (int lane = 0; lane < 4; ++lane) {
        const __m512i index = LaneIndex(lane);
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) store(4 * lane + j, word, DecodeWords(u[j], index, values));
      }
    } else {
      for (std::size_t b = 0; b < blocks; ++b) {
        store(b, word, DecodeWords(u[b % 4], LaneIndex(static_cast<int>(b / 4)), values));
      }
    }
  }
}

// v[i] lane j becomes v[j] lane i (16 x 16 dwords).
inline void Transpose16x16(__m512i* v) {
  __m512i a[16], b[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    a[2 * i] = _mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
    a[2 * i + 1] = _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
  }
  // b[4 i + c], 128-bit lane L: rows 4 i .. 4 i + 3 of column 4 L + c.
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    b[4 * i] = _mm512_unpacklo_epi64(a[4 * i], a[4 * i + 2]);
    b[4 * i + 1] = _mm512_unpackhi_epi64(a[4 * i], a[4 * i + 2]);
    b[4 * i + 2] = _mm512_unpacklo_epi64(a[4 * i + 1], a[4 * i + 3]);
    b[4 * i + 3] = _mm512_unpackhi_epi64(a[4 * i + 1], a[4 * i + 3]);
  }
  // Column 4 L + c gathers lane L of b[c], b[4 + c], b[8 + c], b[12 + c].
#pragma GCC unroll 4
  for (int c = 0; c < 4; ++c) {
    const __m512i e0 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0x44);
    const __m512i e1 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0xee);
    const __m512i e2 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0x44);
    const __m512i e3 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0xee);
    v[c] = _mm512_shuffle_i32x4(e0, e2, 0x88);
    v[4 + c] = _mm512_shuffle_i32x4(e0, e2, 0xdd);
    v[8 + c] = _mm512_shuffle_i32x4(e1, e3, 0x88);
    v[12 + c] = _mm512_shuffle_i32x4(e1, e3, 0xdd);
  }
}

}  // namespace

std::size_t AmxActivationBytes(const QuantWeights& w, std::size_t n) {
  const Shape s = ShapeOf(w);
  const std::size_t tiles = (n + kTileTokens - 1) / kTileTokens;
  return tiles * s.padded_blocks * (s.block_words * 64 + kTileTokens * sizeof(float));
}

AmxActivations PackActivationsAmx(const QuantWeights& w, const PackedActivations& x,
                                  std::int8_t* out) {
  const QuantLayout& l = w.layout();
  const Shape s = ShapeOf(w);
  const std::size_t tile_bytes = s.padded_blocks * s.block_words * 64;
  const std::size_t tiles = (x.n + kTileTokens - 1) / kTileTokens;
  // The block sums, [tile][block][16 tokens], after the values (64-byte aligned).
  auto* sums = reinterpret_cast<float*>(out + tiles * tile_bytes);
  for (std::size_t u = 0; u < tiles; ++u) {
    for (std::size_t block = 0; block < s.padded_blocks; ++block) {
      float* to = sums + (u * s.padded_blocks + block) * kTileTokens;
      for (std::size_t t = 0; t < kTileTokens; ++t) {
        const std::size_t token = u * kTileTokens + t;
        to[t] = token < x.n ? x.block_sums[token * x.block_sums_stride + block] : 0.0f;
      }
    }
  }
  for (std::size_t t0 = 0; t0 < x.n; t0 += kTileTokens) {
    const std::size_t tokens = x.n - t0 < kTileTokens ? x.n - t0 : kTileTokens;
    const std::int8_t* in = x.values + t0 * l.activation_bytes;
    std::int8_t* tile = out + t0 / kTileTokens * tile_bytes;
    // Row j of a group's activations (64 bytes: dword j of its 16 blocks) for the 16 tokens,
    // transposed: dword j of block b for the 16 tokens, row j of block b's tile.
    for (std::size_t row = 0; row < l.groups_per_row * s.block_words; ++row) {
      __m512i v[16];
      for (std::size_t t = 0; t < kTileTokens; ++t) {
        v[t] = t < tokens ? _mm512_load_si512(in + t * l.activation_bytes + row * 64)
                          : _mm512_setzero_si512();
      }
      Transpose16x16(v);
      const std::size_t group = row / s.block_words, j = row % s.block_words;
      std::int8_t* rows = tile + (group * kQuantGroupBlocks * s.block_words + j) * 64;
#pragma GCC unroll 16
      for (std::size_t b = 0; b < kQuantGroupBlocks; ++b) {
        _mm512_store_si512(rows + b * s.block_words * 64, v[b]);
      }
    }
  }
  return {x.n, out, sums, x.scales};
}

namespace {

// kCodebook: the digits' values are codebook steps (offset + step * steps[digit]), so each
// block also adds offset * scale times the block's activation sum.
template <bool kCodebook>
void MatMulQuantAmxRows(const QuantWeights& w, const AmxActivations& x, std::size_t first,
                        std::size_t count, float* y, std::size_t ldy) {
  const QuantLayout& l = w.layout();
  const Shape s = ShapeOf(w);
  const std::size_t tile_bytes = s.padded_blocks * s.block_words * 64;
  const std::size_t block_bytes = s.block_words * 64;  // Of one block's activation tile.
  const std::uint8_t k_rows = static_cast<std::uint8_t>(s.k_bytes / 4);
  const std::uint16_t k_bytes = static_cast<std::uint16_t>(s.k_bytes);
  const std::uint8_t rows[] = {kTileRows, kTileRows, kTileRows, kTileRows,
                               kTileRows, kTileRows, k_rows,    k_rows};
  const std::uint16_t colsb[] = {64, 64, 64, 64, k_bytes, k_bytes, 64, 64};
  const ScopedTiles tiles(8, rows, colsb);

  alignas(64) std::int8_t a[kQuantGroupBlocks * kTileRows * kMaxBlockBytes];
  alignas(64) float scale[kTileRows][kQuantGroupBlocks];
  alignas(64) float offset_scale[kTileRows][kQuantGroupBlocks];  // kCodebook only.
  alignas(64) float acc_out[kMaxTokenTiles][kTileRows][kTileTokens];
  alignas(64) std::int32_t c[2][4][kTileRows][kTileTokens];

  const std::size_t token_tiles = (x.n + kTileTokens - 1) / kTileTokens;
  for (std::size_t u0 = 0; u0 < token_tiles; u0 += kMaxTokenTiles) {
    const std::size_t pass_tiles =
        token_tiles - u0 < kMaxTokenTiles ? token_tiles - u0 : kMaxTokenTiles;
    for (std::size_t r0 = 0; r0 < count; r0 += kTileRows) {
      const std::size_t nr = count - r0 < kTileRows ? count - r0 : kTileRows;
      if (nr < kTileRows) {  // Rows past the range: zero codes and scales.
        std::memset(a, 0, sizeof(a));
        std::memset(scale, 0, sizeof(scale));
        std::memset(offset_scale, 0, sizeof(offset_scale));
      }
      for (std::size_t g = 0; g < l.groups_per_row; ++g) {
        const std::size_t first_block = g * kQuantGroupBlocks;
        const std::size_t blocks = l.blocks_per_row - first_block < kQuantGroupBlocks
                                       ? l.blocks_per_row - first_block
                                       : kQuantGroupBlocks;
        for (std::size_t r = 0; r < nr; ++r) {
          DecodeRowGroup(w, s, first + r0 + r, g, r, a);
          // Scales are padded with zeros to whole groups: 16 load as one vector.
          const __m256i halves = _mm256_loadu_si256(
              reinterpret_cast<const __m256i*>(w.row_scales(first + r0 + r) + first_block));
          const __m512 scales = _mm512_cvtph_ps(halves);
          if constexpr (kCodebook) {
            const QuantCodebook* book = w.row_codebook(first + r0 + r);
            _mm512_store_ps(scale[r], _mm512_mul_ps(scales, _mm512_set1_ps(book->step)));
            _mm512_store_ps(offset_scale[r], _mm512_mul_ps(scales, _mm512_set1_ps(book->offset)));
          } else {
            _mm512_store_ps(scale[r], scales);
          }
        }
        for (std::size_t u = 0; u < pass_tiles; ++u) {
          __m512 acc[kTileRows];
#pragma GCC unroll 16
          for (std::size_t r = 0; r < kTileRows; ++r) {
            acc[r] = g == 0 ? _mm512_setzero_ps() : _mm512_load_ps(acc_out[u][r]);
          }
          const std::int8_t* b_tile = x.values + (u0 + u) * tile_bytes + first_block * block_bytes;
          auto a_tile = [&](std::size_t b, std::size_t k) {
            return a + (b * s.k_steps + k) * kTileRows * s.k_bytes;
          };
          auto b_tile_at = [&](std::size_t b, std::size_t k) {
            return b_tile + b * block_bytes + k * 16 * 64;
          };
          const float* block_sums =
              x.block_sums + ((u0 + u) * s.padded_blocks + first_block) * kTileTokens;
          auto fold = [&](std::size_t b, const std::int32_t(*dots)[kTileTokens])
              __attribute__((always_inline)) {
            [[maybe_unused]] const __m512 sums = _mm512_load_ps(block_sums + b * kTileTokens);
#pragma GCC unroll 16
            for (std::size_t r = 0; r < kTileRows; ++r) {
              const __m512 products = _mm512_cvtepi32_ps(_mm512_load_si512(dots[r]));
              acc[r] = _mm512_fmadd_ps(products, _mm512_set1_ps(scale[r][b]), acc[r]);
              if constexpr (kCodebook) {
                acc[r] = _mm512_fmadd_ps(sums, _mm512_set1_ps(offset_scale[r][b]), acc[r]);
              }
            }
          };
          // Four blocks at a time, each in a product tile of its own, stored into one of two
          // buffers; the vector units fold the previous four from the other buffer meanwhile.
          // Folding the tiles just stored made every load wait for the tile stores to reach
          // the cache (no forwarding from them; cpu-clock samples piled up on those loads).
          std::size_t pending = 0, pending_block = 0;  // Stored, not yet folded.
          int buffer = 0;
          for (std::size_t b = 0; b < blocks; b += 4) {
            const std::size_t m = blocks - b < 4 ? blocks - b : 4;
            _tile_zero(0);
            if (m > 1) _tile_zero(1);
            if (m > 2) _tile_zero(2);
            if (m > 3) _tile_zero(3);
            for (std::size_t k = 0; k < s.k_steps; ++k) {
              _tile_loadd(4, a_tile(b, k), s.k_bytes);
              _tile_loadd(6, b_tile_at(b, k), 64);
              _tile_dpbssd(0, 4, 6);
              if (m > 1) {
                _tile_loadd(5, a_tile(b + 1, k), s.k_bytes);
                _tile_loadd(7, b_tile_at(b + 1, k), 64);
                _tile_dpbssd(1, 5, 7);
              }
              if (m > 2) {
                _tile_loadd(4, a_tile(b + 2, k), s.k_bytes);
                _tile_loadd(6, b_tile_at(b + 2, k), 64);
                _tile_dpbssd(2, 4, 6);
              }
              if (m > 3) {
                _tile_loadd(5, a_tile(b + 3, k), s.k_bytes);
                _tile_loadd(7, b_tile_at(b + 3, k), 64);
                _tile_dpbssd(3, 5, 7);
              }
            }
            _tile_stored(0, c[buffer][0], 64);
            if (m > 1) _tile_stored(1, c[buffer][1], 64);
            if (m > 2) _tile_stored(2, c[buffer][2], 64);
            if (m > 3) _tile_stored(3, c[buffer][3], 64);
            for (std::size_t i = 0; i < pending; ++i) fold(pending_block + i, c[1 - buffer][i]);
            pending = m;
            pending_block = b;
            buffer = 1 - buffer;
          }
          for (std::size_t i = 0; i < pending; ++i) fold(pending_block + i, c[1 - buffer][i]);
#pragma GCC unroll 16
          for (std::size_t r = 0; r < kTileRows; ++r) _mm512_store_ps(acc_out[u][r], acc[r]);
        }
      }
      for (std::size_t u = 0; u < pass_tiles; ++u) {
        const std::size_t t0 = (u0 + u) * kTileTokens;
        const std::size_t nt = x.n - t0 < kTileTokens ? x.n - t0 : kTileTokens;
        for (std::size_t t = 0; t < nt; ++t) {
          const float token_scale = x.scales[t0 + t];
          float* out = y + (t0 + t) * ldy + r0;
          for (std::size_t r = 0; r < nr; ++r) out[r] = acc_out[u][r][t] * token_scale;
        }
      }
    }
  }
}

}  // namespace

void MatMulQuantAmx(const QuantWeights& w, const AmxActivations& x, std::size_t first,
                    std::size_t count, float* y, std::size_t ldy) {
  if (w.format() == WeightFormat::kCodebook2Bit) {
    MatMulQuantAmxRows<true>(w, x, first, count, y, ldy);
  } else {
    MatMulQuantAmxRows<false>(w, x, first, count, y, ldy);
  }
}

}  // namespace ghost::kernels::internal
