// AMX bf16 products (this file alone is compiled with the AMX and AVX-512 BF16 flags; see
// kernels/CMakeLists.txt). Internal linkage and no standard-library templates, for the
// reason given in matmul_avx2.cc.
//
// The weights need no re-layout: a 16-row x 32-column bf16 tile of the row-major matrix is
// tdpbf16ps's A operand as it lies (one tileloadd with the row stride). The activations are
// split into three bf16 terms once per call and interleaved in pairs of columns, 16 tokens
// per tile (B). Blocks of 2 x 2 tiles (32 rows x 32 tokens) accumulate in fp32 over chunks
// of columns; the only epilogue is the store of each output tile.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/amx_tiles.h"
#include "kernels/cpu/matmul_internal.h"

namespace ghost::kernels::internal {
namespace {

constexpr std::size_t kTileRows = 16;
constexpr std::size_t kTileTokens = 16;
constexpr std::size_t kTileCols = 32;  // bf16 values of K per tile row (64 bytes).
// uint16 values of one packed activation tile: 16 column pairs x 16 tokens x 2.
constexpr std::size_t kPackedTile = kTileCols * kTileTokens;
// Each activation is split into three bf16 terms, x = t0 + t1 + t2 (t0 = bf16(x), t1 =
// bf16(x - t0), t2 = bf16(x - t0 - t1)), which hold its 24 significant bits: the products of
// these with bf16 weights are exact in fp32, so the tile product keeps fp32 activations'
// precision, as the FMA kernels do, and a batch computes what each sequence alone does (to
// fp32 summation order). One term (plain bf16 activations, llama.cpp's choice) ran the
// engine's bf16 reference logits at 0.018 relative error against a 0.01 bound.
constexpr std::size_t kTerms = 3;
// Column tiles per chunk (512 columns: 32 rows' weights 32 KiB, in L1 across the tokens) and
// token tiles per pass (256 tokens: their fp32 products 64 KiB of stack per 32 rows).
constexpr std::size_t kChunkTiles = 16;
constexpr std::size_t kPassTokenTiles = 16;

// Writes the 16 x 16 fp32 tile `tile` (row r, token t at tile[r * 16 + t]) to y, rows
// [0, rows) and tokens [0, tokens) of it only.
inline void WriteTile(const float* tile, std::size_t rows, std::size_t tokens, float* y,
                      std::size_t ldy) {
  for (std::size_t t = 0; t < tokens; ++t) {
    for (std::size_t r = 0; r < rows; ++r) y[t * ldy + r] = tile[r * kTileTokens + t];
  }
}

// One block of kRowTiles x kTokenTiles output tiles over column tiles [k0, k1): C tile 2 i + j
// is row tile i x token tile j (kept in acc[2 i + j] between column chunks), A tiles 4 and 5
// the weight rows, B tiles 6 and 7 the activations. x_token_tile is the first token tile's
// activations; the second's follow `col_tiles` tiles later, and the kTerms planes `plane`
// values apart.
template <int kRowTiles, int kTokenTiles>
void ProductBlock(const std::uint16_t* x_token_tile, std::size_t plane, std::size_t col_tiles,
                  std::size_t k0, std::size_t k1, const std::uint16_t* w, std::size_t cols,
                  float (*acc)[kTileRows * kTileTokens]) {
  const std::size_t stride = cols * sizeof(std::uint16_t);
  const std::uint16_t* w1 = w + kTileRows * cols;
  const std::uint16_t* x1 = x_token_tile + col_tiles * kPackedTile;
  if (k0 == 0) {
    _tile_zero(0);
    if constexpr (kTokenTiles == 2) _tile_zero(1);
    if constexpr (kRowTiles == 2) _tile_zero(2);
    if constexpr (kRowTiles == 2 && kTokenTiles == 2) _tile_zero(3);
  } else {
    _tile_loadd(0, acc[0], 64);
    if constexpr (kTokenTiles == 2) _tile_loadd(1, acc[1], 64);
    if constexpr (kRowTiles == 2) _tile_loadd(2, acc[2], 64);
    if constexpr (kRowTiles == 2 && kTokenTiles == 2) _tile_loadd(3, acc[3], 64);
  }
  for (std::size_t k = k0; k < k1; ++k) {
    _tile_loadd(4, w + k * kTileCols, stride);
    if constexpr (kRowTiles == 2) _tile_loadd(5, w1 + k * kTileCols, stride);
    for (std::size_t term = 0; term < kTerms; ++term) {
      _tile_loadd(6, x_token_tile + term * plane + k * kPackedTile, 64);
      _tile_dpbf16ps(0, 4, 6);
      if constexpr (kRowTiles == 2) _tile_dpbf16ps(2, 5, 6);
      if constexpr (kTokenTiles == 2) {
        _tile_loadd(7, x1 + term * plane + k * kPackedTile, 64);
        _tile_dpbf16ps(1, 4, 7);
        if constexpr (kRowTiles == 2) _tile_dpbf16ps(3, 5, 7);
      }
    }
  }
  _tile_stored(0, acc[0], 64);
  if constexpr (kTokenTiles == 2) _tile_stored(1, acc[1], 64);
  if constexpr (kRowTiles == 2) _tile_stored(2, acc[2], 64);
  if constexpr (kRowTiles == 2 && kTokenTiles == 2) _tile_stored(3, acc[3], 64);
}

// Rows [0, rows) against every token, with tiles of `tile_rows` rows (16, or fewer for the
// last rows of a matrix: the tiles are configured with that many rows). For each pair of row
// tiles the columns go in chunks of kChunkTiles, each against every token, the products
// kept in fp32 tiles in memory between chunks: a chunk's activations (three terms) stay in
// L2 however long the rows (without chunks, 64 tokens x 5632 columns re-read 2.2 MB from L3
// for every 32 rows: 3x the time of 32 tokens).
void ProductRows(const std::uint16_t* x_packed, std::size_t n, const std::uint16_t* w,
                 std::size_t rows, std::size_t cols, float* y, std::size_t ldy,
                 std::size_t tile_rows) {
  const auto r = static_cast<std::uint8_t>(tile_rows);
  // Products and weights have tile_rows rows; activations 16 (column pairs).
  const std::uint8_t tile_row_counts[] = {r, r, r, r, r, r, kTileRows, kTileRows};
  const std::uint16_t colsb[] = {64, 64, 64, 64, 64, 64, 64, 64};
  const ScopedTiles tiles(8, tile_row_counts, colsb);
  const std::size_t col_tiles = cols / kTileCols;
  const std::size_t token_tiles = (n + kTileTokens - 1) / kTileTokens;
  const std::size_t plane = token_tiles * col_tiles * kPackedTile;  // Values per term.
  alignas(64) float acc[kPassTokenTiles / 2][4][kTileRows * kTileTokens];
  for (std::size_t r0 = 0; r0 < rows; r0 += 2 * tile_rows) {
    const bool two_rows = rows - r0 > tile_rows;
    const std::size_t nr = rows - r0 < 2 * tile_rows ? rows - r0 : 2 * tile_rows;
    const std::uint16_t* wr = w + r0 * cols;
    for (std::size_t pass = 0; pass < token_tiles; pass += kPassTokenTiles) {
      const std::size_t pass_end =
          token_tiles - pass < kPassTokenTiles ? token_tiles : pass + kPassTokenTiles;
      for (std::size_t k0 = 0; k0 < col_tiles; k0 += kChunkTiles) {
        const std::size_t k1 = col_tiles - k0 < kChunkTiles ? col_tiles : k0 + kChunkTiles;
        for (std::size_t u = pass; u < pass_end; u += 2) {
          const std::uint16_t* xu = x_packed + u * col_tiles * kPackedTile;
          auto* block = acc[(u - pass) / 2];
          if (u + 1 < pass_end) {
            if (two_rows) {
              ProductBlock<2, 2>(xu, plane, col_tiles, k0, k1, wr, cols, block);
            } else {
              ProductBlock<1, 2>(xu, plane, col_tiles, k0, k1, wr, cols, block);
            }
          } else if (two_rows) {
            ProductBlock<2, 1>(xu, plane, col_tiles, k0, k1, wr, cols, block);
          } else {
            ProductBlock<1, 1>(xu, plane, col_tiles, k0, k1, wr, cols, block);
          }
        }
      }
      for (std::size_t u = pass; u < pass_end; ++u) {
        const std::size_t t0 = u * kTileTokens;
        const std::size_t nt = n - t0 < kTileTokens ? n - t0 : kTileTokens;
        for (std::size_t i = 0; i < (two_rows ? 2 : 1); ++i) {
          const std::size_t rt = nr - i * tile_rows < tile_rows ? nr - i * tile_rows : tile_rows;
          WriteTile(acc[(u - pass) / 2][2 * i + (u - pass) % 2], rt, nt,
                    y + t0 * ldy + r0 + i * tile_rows, ldy);
        }
      }
    }
  }
}

}  // namespace

std::size_t AmxBf16ActivationValues(std::size_t n, std::size_t cols) {
  return kTerms * ((n + kTileTokens - 1) / kTileTokens * (cols / kTileCols) * kPackedTile);
}

void PackBf16ActivationsAmx(const float* x, std::size_t n, std::size_t cols, std::uint16_t* out) {
  const std::size_t col_tiles = cols / kTileCols;
  const std::size_t token_tile_values = col_tiles * kPackedTile;
  const std::size_t plane = AmxBf16ActivationValues(n, cols) / kTerms;
  if (n % kTileTokens != 0) {
    for (std::size_t term = 0; term < kTerms; ++term) {
      std::memset(out + term * plane + n / kTileTokens * token_tile_values, 0,
                  token_tile_values * sizeof(std::uint16_t));
    }
  }
  // Column pair p of a tile goes to its row p: 16 dwords, 64 bytes apart.
  const __m512i pair_rows =
      _mm512_set_epi32(240, 224, 208, 192, 176, 160, 144, 128, 112, 96, 80, 64, 48, 32, 16, 0);
  for (std::size_t t = 0; t < n; ++t) {
    const float* row = x + t * cols;
    std::uint16_t* tile = out + t / kTileTokens * token_tile_values + 2 * (t % kTileTokens);
    for (std::size_t k = 0; k < col_tiles; ++k) {
      __m512 rest[2] = {_mm512_loadu_ps(row + k * kTileCols),
                        _mm512_loadu_ps(row + k * kTileCols + 16)};
      for (std::size_t term = 0; term < kTerms; ++term) {
        __m256i halves[2];
        for (int h = 0; h < 2; ++h) {
          halves[h] = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(rest[h]));
          const __m512 rounded =
              _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(halves[h]), 16));
          rest[h] = _mm512_sub_ps(rest[h], rounded);  // Exact: rounded is x's leading bits.
        }
        const __m512i pairs = _mm512_inserti64x4(_mm512_castsi256_si512(halves[0]), halves[1], 1);
        _mm512_i32scatter_epi32(tile + term * plane + k * kPackedTile, pair_rows, pairs, 4);
      }
    }
  }
}

void MatMulBf16Amx(const std::uint16_t* x_packed, std::size_t n, const std::uint16_t* w,
                   std::size_t rows, std::size_t cols, float* y, std::size_t ldy) {
  const std::size_t whole = rows / kTileRows * kTileRows;
  if (whole > 0) ProductRows(x_packed, n, w, whole, cols, y, ldy, kTileRows);
  if (whole < rows) {
    ProductRows(x_packed, n, w + whole * cols, rows - whole, cols, y + whole, ldy, rows - whole);
  }
}

}  // namespace ghost::kernels::internal
