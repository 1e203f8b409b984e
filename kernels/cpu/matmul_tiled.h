// Internal to kernels/cpu: the cache blocking shared by the SIMD variants. Each ISA file
// supplies register-tile micro-kernels; RunTiled (compiled once, without ISA flags) walks
// the matrix in tiles so that every weight row is read from memory once per call.
#ifndef GHOST_KERNELS_CPU_MATMUL_TILED_H_
#define GHOST_KERNELS_CPU_MATMUL_TILED_H_

#include <cstddef>
#include <cstdint>

namespace ghost::kernels::internal {

// y[t * ldy + r] = (accumulate ? y[t * ldy + r] : 0) + sum_{c < kc} x[t * ldx + c] * w[r * ldw + c]
// for one fixed tile of r < tile rows, t < tile tokens.
template <typename Weight>
using TileFn = void (*)(const float* x, std::size_t ldx, const Weight* w, std::size_t ldw,
                        std::size_t kc, float* y, std::size_t ldy, bool accumulate);

inline constexpr int kMaxTileRows = 4;
inline constexpr int kMaxTileTokens = 4;

template <typename Weight>
struct TileSet {
  int rows;    // Weight rows in a full tile.
  int tokens;  // Activation rows in a full tile.
  // fns[r - 1][t - 1] computes an r x t tile; the matrix edges use the smaller ones.
  TileFn<Weight> fns[kMaxTileRows][kMaxTileTokens];
};

// Same contract as the MatMul*RowsFn entry points in matmul_internal.h.
template <typename Weight>
void RunTiled(const TileSet<Weight>& tiles, const float* x, std::size_t n, const Weight* w,
              std::size_t rows, std::size_t cols, float* y, std::size_t ldy);

extern template void RunTiled<float>(const TileSet<float>&, const float*, std::size_t, const float*,
                                     std::size_t, std::size_t, float*, std::size_t);
extern template void RunTiled<std::uint16_t>(const TileSet<std::uint16_t>&, const float*,
                                             std::size_t, const std::uint16_t*, std::size_t,
                                             std::size_t, float*, std::size_t);

}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_MATMUL_TILED_H_
