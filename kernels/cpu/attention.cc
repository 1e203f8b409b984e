// The one place that chooses an attention variant and splits a call across the thread pool:
// one task per (kv head, tile of query rows).
#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <vector>

#include "kernels/cpu/attention_internal.h"
#include "kernels/cpu/thread_pool.h"

namespace ghost::kernels {
namespace {

// Indexed by CpuIsa.
constexpr internal::AttendRowsFn kAttendRows[] = {
    internal::AttendRowsScalar, internal::AttendRowsAvx2, internal::AttendRowsAvx512};
static_assert(std::size(kAttendRows) == static_cast<std::size_t>(CpuIsa::kAvx512) + 1);

// Waking the workers costs some microseconds; below this many multiply-adds one core is
// faster on its own.
constexpr std::size_t kMinParallelMacs = std::size_t{1} << 16;

struct Job {
  internal::AttendRowsFn fn;
  const AttentionDims* dims;
  const float* q;
  std::size_t first;
  const PagedKvBlocks* kv;
  std::size_t rows;  // per kv head
  std::size_t tile_rows;
  std::size_t tiles_per_head;
  float* out;
};

// Grows once per thread to the largest tile seen; later calls allocate nothing.
float* TileScratch(std::size_t floats) {
  thread_local std::vector<float> scratch;
  if (scratch.size() < floats) scratch.resize(floats);
  return scratch.data();
}

void RunTile(void* context, std::size_t task) {
  const Job& job = *static_cast<const Job*>(context);
  const std::size_t kv_head = task / job.tiles_per_head;
  const std::size_t row_begin = task % job.tiles_per_head * job.tile_rows;
  const std::size_t row_end = std::min(row_begin + job.tile_rows, job.rows);
  float* sums = TileScratch(job.tile_rows * job.dims->head_dim);
  job.fn(*job.dims, job.q, job.first, *job.kv, kv_head, row_begin, row_end, sums, job.out);
}

}  // namespace

void PagedAttentionIsa(CpuIsa isa, const AttentionDims& dims, const float* q, std::size_t n,
                       std::size_t first, const PagedKvBlocks& kv, float* out) {
  if (n == 0) return;
  const std::size_t group = dims.num_heads / dims.num_kv_heads;
  const std::size_t rows = n * group;
  const std::size_t tile_rows = internal::TileRows(group);
  const std::size_t tiles_per_head = (rows + tile_rows - 1) / tile_rows;
  Job job{kAttendRows[static_cast<int>(isa)],
          &dims,
          q,
          first,
          &kv,
          rows,
          tile_rows,
          tiles_per_head,
          out};
  const std::size_t tasks = dims.num_kv_heads * tiles_per_head;
  // Scores and weighted sums, counting every cached position for every row (an upper bound).
  const std::size_t macs = 2 * dims.num_heads * n * (first + n) * dims.head_dim;
  ThreadPool& pool = ThreadPool::Default();
  if (tasks == 1 || pool.num_threads() == 1 || macs < kMinParallelMacs) {
    for (std::size_t task = 0; task < tasks; ++task) RunTile(&job, task);
    return;
  }
  pool.Run(tasks, RunTile, &job);
}

void PagedAttention(const AttentionDims& dims, const float* q, std::size_t n, std::size_t first,
                    const PagedKvBlocks& kv, float* out) {
  PagedAttentionIsa(DetectedIsa(), dims, q, n, first, kv, out);
}

}  // namespace ghost::kernels
