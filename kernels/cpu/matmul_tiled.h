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
  // Optional: a 1 x 1 tile with several accumulators, for n = 1. RunTiled then walks the rows
  // one at a time, so that the weights are read as one linear stream (consecutive rows are
  // adjacent); for bf16 on Zen 5 that measured faster from memory than the 4 interleaved row
  // streams of a 4-row tile (2048 x 5632: ~0.95 of the read bandwidth against ~0.86). Only
  // while the activations stay in L1: otherwise every row re-reads them from L2, and the
  // 4-row tiles, which share each activation load among 4 rows, measured faster
  // (4096 x 14336).
  TileFn<Weight> row = nullptr;
};

// The activation bytes (n = 1) up to which RunTiled uses TileSet::row.
inline constexpr std::size_t kRowAtATimeMaxActivationBytes = 32 * 1024;

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
