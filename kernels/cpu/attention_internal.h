// Internal to kernels/cpu: the per-ISA attention tiles that attention.cc chooses between and
// splits the work into.
#ifndef GHOST_KERNELS_CPU_ATTENTION_INTERNAL_H_
#define GHOST_KERNELS_CPU_ATTENTION_INTERNAL_H_

#include <cstddef>

#include "kernels/cpu/attention.h"

namespace ghost::kernels::internal {

// Keys scored together before one rescale of a row's running sums.
constexpr std::size_t kKeyBlock = 16;

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
// disjoint key ranges merge by rescaling to the larger maximum. `widened` is the tile's
// scratch for a bf16 cache, WidenedFloats(head_dim) floats: one block of keys and values of one
// kv head, converted to fp32 once and then read by every query head of its group.
struct TileState {
  float* sums;
  float* max;
  float* total;
  float* widened;
};

inline std::size_t WidenedFloats(std::size_t head_dim) { return 2 * kKeyBlock * head_dim; }

// Fills the rows of `state` that `range` covers (no others are written): one pass over the
// keys and values, each row of the cache serving every kv head of the range and every query
// head of its group.
using AttendTileFn = void (*)(const AttentionDims& dims, const float* q, std::size_t first,
                              const PagedKvBlocks& kv, const TileRange& range,
                              const TileState& state);

// One per ISA and KvDtype; each reads the cache as its own dtype, whatever kv.dtype says
// (attention.cc picks by it).
void AttendTileF32Scalar(const AttentionDims&, const float*, std::size_t, const PagedKvBlocks&,
                         const TileRange&, const TileState&);
void AttendTileF32Avx2(const AttentionDims&, const float*, std::size_t, const PagedKvBlocks&,
                       const TileRange&, const TileState&);
void AttendTileF32Avx512(const AttentionDims&, const float*, std::size_t, const PagedKvBlocks&,
                         const TileRange&, const TileState&);
void AttendTileBf16Scalar(const AttentionDims&, const float*, std::size_t, const PagedKvBlocks&,
                          const TileRange&, const TileState&);
void AttendTileBf16Avx2(const AttentionDims&, const float*, std::size_t, const PagedKvBlocks&,
                        const TileRange&, const TileState&);
void AttendTileBf16Avx512(const AttentionDims&, const float*, std::size_t, const PagedKvBlocks&,
                          const TileRange&, const TileState&);

}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_ATTENTION_INTERNAL_H_
