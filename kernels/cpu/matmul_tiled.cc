#include "kernels/cpu/matmul_tiled.h"

#include <algorithm>

namespace ghost::kernels::internal {
namespace {

// The activations' slice of one column pass, for all n tokens, should stay in L2 while
// every row tile streams past it. Decode (small n) thus takes all columns in one pass and
// reads each weight row exactly once; prefill splits the columns and accumulates into y.
constexpr std::size_t kActivationBytesInL2 = 512 * 1024;
constexpr std::size_t kMinPassColumns = 256;

}  // namespace

template <typename Weight>
void RunTiled(const TileSet<Weight>& tiles, const float* x, std::size_t n, const Weight* w,
              std::size_t rows, std::size_t cols, float* y, std::size_t ldy) {
  std::size_t pass_cols = kActivationBytesInL2 / (sizeof(float) * std::max<std::size_t>(n, 1));
  pass_cols = std::max(kMinPassColumns, pass_cols / 64 * 64);
  if (cols == 0) {  // Empty sums: the column loop below would not write y at all.
    for (std::size_t t = 0; t < n; ++t) std::fill_n(y + t * ldy, rows, 0.0f);
    return;
  }
  if (n == 1 && tiles.row != nullptr && cols * sizeof(float) <= kRowAtATimeMaxActivationBytes) {
    for (std::size_t r = 0; r < rows; ++r) {
      tiles.row(x, cols, w + r * cols, cols, cols, y + r, ldy, /*accumulate=*/false);
    }
    return;
  }
  const std::size_t tile_rows = tiles.rows;
  const std::size_t tile_tokens = tiles.tokens;
  for (std::size_t c0 = 0; c0 < cols; c0 += pass_cols) {
    const std::size_t kc = std::min(pass_cols, cols - c0);
    for (std::size_t r0 = 0; r0 < rows; r0 += tile_rows) {
      const std::size_t nr = std::min(tile_rows, rows - r0);
      // The row tile stays in L1/L2 while every group of tokens uses it.
      for (std::size_t t0 = 0; t0 < n; t0 += tile_tokens) {
        const std::size_t nt = std::min(tile_tokens, n - t0);
        tiles.fns[nr - 1][nt - 1](x + t0 * cols + c0, cols, w + r0 * cols + c0, cols, kc,
                                  y + t0 * ldy + r0, ldy, /*accumulate=*/c0 > 0);
      }
    }
  }
}

template void RunTiled<float>(const TileSet<float>&, const float*, std::size_t, const float*,
                              std::size_t, std::size_t, float*, std::size_t);
template void RunTiled<std::uint16_t>(const TileSet<std::uint16_t>&, const float*, std::size_t,
                                      const std::uint16_t*, std::size_t, std::size_t, float*,
                                      std::size_t);

}  // namespace ghost::kernels::internal
