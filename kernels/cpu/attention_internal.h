// Internal to kernels/cpu: the per-ISA attention entry points that attention.cc chooses
// between, and how it tiles the work.
//
// The query rows of one kv head are numbered r = t * group + g for new position t and query
// head g of the group, so that a tile of consecutive rows holds whole positions' groups
// where it can.
#ifndef GHOST_KERNELS_CPU_ATTENTION_INTERNAL_H_
#define GHOST_KERNELS_CPU_ATTENTION_INTERNAL_H_

#include <cstddef>

#include "kernels/cpu/attention.h"

namespace ghost::kernels::internal {

// Rows attended together in one pass over the keys: their running sums (tile * head_dim
// floats) stay in L1, and the per-row state fits on the stack.
constexpr std::size_t kMaxTileRows = 16;

// Whole groups per tile where a group fits, so one position's heads share every key load.
constexpr std::size_t TileRows(std::size_t group) {
  return group <= kMaxTileRows ? kMaxTileRows / group * group : kMaxTileRows;
}

// Attends rows [row_begin, row_end) (at most kMaxTileRows) of kv head `kv_head`, writing
// their outputs. `sums` holds (row_end - row_begin) * head_dim floats of scratch.
using AttendRowsFn = void (*)(const AttentionDims& dims, const float* q, std::size_t first,
                              const PagedKvBlocks& kv, std::size_t kv_head, std::size_t row_begin,
                              std::size_t row_end, float* sums, float* out);

void AttendRowsScalar(const AttentionDims&, const float*, std::size_t, const PagedKvBlocks&,
                      std::size_t, std::size_t, std::size_t, float*, float*);
void AttendRowsAvx2(const AttentionDims&, const float*, std::size_t, const PagedKvBlocks&,
                    std::size_t, std::size_t, std::size_t, float*, float*);
void AttendRowsAvx512(const AttentionDims&, const float*, std::size_t, const PagedKvBlocks&,
                      std::size_t, std::size_t, std::size_t, float*, float*);

}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_ATTENTION_INTERNAL_H_
