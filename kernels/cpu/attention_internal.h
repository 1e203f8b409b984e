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
// disjoint key ranges merge by rescaling to the larger maximum. `scratch` is the tile's own
// memory, TileScratchFloats(head_dim, rows) floats from a 64-byte boundary: the widening tiles
// keep one block of keys and values of one kv head there, converted to fp32 once and then read
// by every query head of its group; the transposed tile a record per row.
struct TileState {
  float* sums;
  float* max;
  float* total;
  float* scratch;
};

constexpr std::size_t kTileScratchFloatsPerRow = 16;

// For a tile of at most `rows` query rows (positions x query heads).
inline std::size_t TileScratchFloats(std::size_t head_dim, std::size_t rows) {
  const std::size_t widened = 2 * kKeyBlock * head_dim;
  const std::size_t row_records = rows * kTileScratchFloatsPerRow;
  return widened > row_records ? widened : row_records;
}

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
// attention_avx512_transposed.cc: each block's keys transposed to one key per lane, for head
// sizes 64 and 128; it hands other sizes to AttendTileBf16Avx512.
void AttendTileBf16Avx512Transposed(const AttentionDims&, const float*, std::size_t,
                                    const PagedKvBlocks&, const TileRange&, const TileState&);

}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_ATTENTION_INTERNAL_H_
