// Internal to kernels/cpu: the per-ISA attention tiles that attention.cc chooses between and
// splits the work into.
#ifndef GHOST_KERNELS_CPU_ATTENTION_INTERNAL_H_
#define GHOST_KERNELS_CPU_ATTENTION_INTERNAL_H_

#include <cstddef>

#include "kernels/cpu/attention.h"

namespace ghost::kernels::internal {

// New positions [t_begin, t_end) attended over the cached positions [key_begin, key_end)
// (each position further limited to the keys it sees), for the kv heads [kv_head_begin,
// kv_head_end) and their query heads only (by default all of them).
struct TileRange {
  std::size_t t_begin = 0;
  std::size_t t_end = 0;
  std::size_t key_begin = 0;
  std::size_t key_end = 0;
  std::size_t kv_head_begin = 0;
  std::size_t kv_head_end = static_cast<std::size_t>(-1);  // clamped to num_kv_heads
};

// The streaming softmax state of a tile's rows, row i = (t - t_begin) * num_heads + head:
// the running maximum score, the running sum of e^(score - max) and the sums of values
// weighted by e^(score - max), [rows, head_dim]. The output is sums / total; tiles over
// disjoint key ranges merge by rescaling to the larger maximum.
struct TileState {
  float* sums;
  float* max;
  float* total;
};

// Fills the rows of `state` that `range` covers (no others are written): one pass over the
// keys and values, each row of the cache serving every kv head of the range and every query
// head of its group.
using AttendTileFn = void (*)(const AttentionDims& dims, const float* q, std::size_t first,
                              const PagedKvBlocks& kv, const TileRange& range,
                              const TileState& state);

void AttendTileScalar(const AttentionDims&, const float*, std::size_t, const PagedKvBlocks&,
                      const TileRange&, const TileState&);
void AttendTileAvx2(const AttentionDims&, const float*, std::size_t, const PagedKvBlocks&,
                    const TileRange&, const TileState&);
void AttendTileAvx512(const AttentionDims&, const float*, std::size_t, const PagedKvBlocks&,
                      const TileRange&, const TileState&);

}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_ATTENTION_INTERNAL_H_
