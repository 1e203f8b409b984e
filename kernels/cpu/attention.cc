// The one place that chooses an attention variant and splits a call across the thread pool:
// one task per tile of new positions, or, for a single tile (decode), one task per range of
// cached positions, merged afterwards, or where the cache is too short to split, one task per
// kv head.
#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <vector>

#include "kernels/cpu/attention_internal.h"
#include "kernels/cpu/thread_pool.h"

namespace ghost::kernels {
namespace {

using internal::TileRange;
using internal::TileState;

// Indexed by KvDtype, then CpuIsa.
constexpr internal::AttendTileFn kAttendTile[][3] = {
    {internal::AttendTileF32Scalar, internal::AttendTileF32Avx2, internal::AttendTileF32Avx512},
    {internal::AttendTileBf16Scalar, internal::AttendTileBf16Avx2, internal::AttendTileBf16Avx512}};
static_assert(std::size(kAttendTile) == static_cast<std::size_t>(KvDtype::kBf16) + 1);
static_assert(std::size(kAttendTile[0]) == static_cast<std::size_t>(CpuIsa::kAvx512) + 1);

// Query rows (positions x heads) per tile, at least one position: their running sums stay in
// L1 while the keys and values stream past once.
constexpr std::size_t kTileRows = 32;
// Waking the workers costs some microseconds; below this many multiply-adds one core is
// faster on its own.
constexpr std::size_t kMinParallelMacs = std::size_t{1} << 16;
// A single tile's keys are split into ranges of at least kMinSplitKeys, a few per thread so
// that a core slowed by other load takes fewer.
constexpr std::size_t kSplitsPerThread = 2;
constexpr std::size_t kMinSplitKeys = 256;

struct Job {
  internal::AttendTileFn fn;
  const AttentionDims* dims;
  const float* q;
  std::size_t n;
  std::size_t first;
  const PagedKvBlocks* kv;
  std::size_t positions_per_tile;
  std::size_t split_keys;  // cached positions per split of a single tile
  float* partials;         // each split's sums, max and total, back to back
  float* out;
};

// Grows once to the largest size seen; later calls allocate nothing.
float* Grow(std::vector<float>& buffer, std::size_t floats) {
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

// The calling thread's TileState::widened.
float* WidenedScratch(std::size_t head_dim) {
  thread_local std::vector<float> widened;
  return Grow(widened, internal::WidenedFloats(head_dim));
}

// Positions [t_begin, t_end) over every key they see, for the kv heads [kv_head_begin,
// kv_head_end). The rows are laid out as the output's, so the sums build up in `out` itself
// and are divided by their totals at the end.
void AttendAndNormalize(const Job& job, std::size_t t_begin, std::size_t t_end,
                        std::size_t kv_head_begin, std::size_t kv_head_end) {
  const AttentionDims& dims = *job.dims;
  const std::size_t head_dim = dims.head_dim;
  const std::size_t group = dims.num_heads / dims.num_kv_heads;
  const std::size_t rows = (t_end - t_begin) * dims.num_heads;
  thread_local std::vector<float> scratch;
  float* max_and_total = Grow(scratch, 2 * rows);
  const TileState state{job.out + t_begin * dims.num_heads * head_dim, max_and_total,
                        max_and_total + rows, WidenedScratch(head_dim)};
  job.fn(dims, job.q, job.first, *job.kv,
         {t_begin, t_end, 0, job.first + job.n, kv_head_begin, kv_head_end}, state);
  for (std::size_t t = 0; t < t_end - t_begin; ++t) {
    for (std::size_t i = t * dims.num_heads + kv_head_begin * group;
         i < t * dims.num_heads + kv_head_end * group; ++i) {
      // Every row sees at least its own position, so its total is at least 1.
      const float inverse = 1.0f / state.total[i];
      for (std::size_t d = 0; d < head_dim; ++d) state.sums[i * head_dim + d] *= inverse;
    }
  }
}

// A tile of positions, all heads.
void RunTile(void* context, std::size_t task) {
  const Job& job = *static_cast<const Job*>(context);
  const std::size_t t_begin = task * job.positions_per_tile;
  AttendAndNormalize(job, t_begin, std::min(t_begin + job.positions_per_tile, job.n), 0,
                     job.dims->num_kv_heads);
}

// A single tile's kv head `task` (and its query heads) over every key.
void RunKvHead(void* context, std::size_t task) {
  const Job& job = *static_cast<const Job*>(context);
  AttendAndNormalize(job, 0, job.n, task, task + 1);
}

// Split `split`'s sums, max and total; RunSplit adds the scratch of the thread that fills them.
TileState SplitState(const Job& job, std::size_t split) {
  const std::size_t rows = job.n * job.dims->num_heads;
  float* base = job.partials + split * rows * (job.dims->head_dim + 2);
  return {base, base + rows * job.dims->head_dim, base + rows * (job.dims->head_dim + 1), nullptr};
}

void RunSplit(void* context, std::size_t split) {
  const Job& job = *static_cast<const Job*>(context);
  const std::size_t key_begin = split * job.split_keys;
  const std::size_t key_end = std::min(key_begin + job.split_keys, job.first + job.n);
  TileState state = SplitState(job, split);
  state.widened = WidenedScratch(job.dims->head_dim);
  job.fn(*job.dims, job.q, job.first, *job.kv, {0, job.n, key_begin, key_end}, state);
}

// Rescales every split's sums and total to the row's overall maximum and adds them up. A
// split whose keys a row does not see has max -inf and weighs e^-inf = 0.
void MergeSplits(const Job& job, std::size_t splits) {
  const std::size_t head_dim = job.dims->head_dim;
  const std::size_t rows = job.n * job.dims->num_heads;
  for (std::size_t i = 0; i < rows; ++i) {
    float max = -INFINITY;
    for (std::size_t s = 0; s < splits; ++s) max = std::max(max, SplitState(job, s).max[i]);
    float total = 0.0f;
    float* row = job.out + i * head_dim;
    std::fill_n(row, head_dim, 0.0f);
    for (std::size_t s = 0; s < splits; ++s) {
      const TileState state = SplitState(job, s);
      const float weight = std::exp(state.max[i] - max);
      total += weight * state.total[i];
      for (std::size_t d = 0; d < head_dim; ++d) row[d] += weight * state.sums[i * head_dim + d];
    }
    for (std::size_t d = 0; d < head_dim; ++d) row[d] /= total;
  }
}

}  // namespace

void PagedAttentionIsa(CpuIsa isa, const AttentionDims& dims, const float* q, std::size_t n,
                       std::size_t first, const PagedKvBlocks& kv, float* out) {
  if (n == 0) return;
  const std::size_t positions_per_tile = std::max<std::size_t>(1, kTileRows / dims.num_heads);
  const std::size_t tiles = (n + positions_per_tile - 1) / positions_per_tile;
  const std::size_t keys = first + n;
  Job job{kAttendTile[static_cast<int>(kv.dtype)][static_cast<int>(isa)],
          &dims,
          q,
          n,
          first,
          &kv,
          positions_per_tile,
          keys,
          nullptr,
          out};
  ThreadPool& pool = ThreadPool::Default();
  const std::size_t threads = pool.num_threads();
  // Scores and weighted sums, counting every cached position for every row (an upper bound).
  const std::size_t macs = 2 * dims.num_heads * n * keys * dims.head_dim;
  const std::size_t splits =
      tiles > 1 ? 1 : std::min(threads * kSplitsPerThread, keys / kMinSplitKeys);
  if (threads == 1 || macs < kMinParallelMacs) {
    for (std::size_t task = 0; task < tiles; ++task) RunTile(&job, task);
    return;
  }
  if (tiles > 1) {
    pool.Run(tiles, RunTile, &job);
    return;
  }
  if (splits < 2) {
    // A short context (decode, mostly): too few keys to split, but the kv heads are
    // independent and need no merge.
    pool.Run(dims.num_kv_heads, RunKvHead, &job);
    return;
  }
  thread_local std::vector<float> partials;
  job.partials = Grow(partials, splits * n * dims.num_heads * (dims.head_dim + 2));
  job.split_keys = (keys + splits - 1) / splits;
  pool.Run(splits, RunSplit, &job);
  MergeSplits(job, splits);
}

void PagedAttention(const AttentionDims& dims, const float* q, std::size_t n, std::size_t first,
                    const PagedKvBlocks& kv, float* out) {
  PagedAttentionIsa(DetectedIsa(), dims, q, n, first, kv, out);
}

}  // namespace ghost::kernels
