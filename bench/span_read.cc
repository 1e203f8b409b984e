// ReadSpans: each thread reads its share of the spans through the bandwidth pass's loop
// (read_bytes.h), the spans kAhead ahead prefetched.
#include "bench/span_read.h"

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "bench/read_bytes.h"
#include "kernels/cpu/prefetch.h"
#include "kernels/cpu/thread_pool.h"

namespace ghost::bench {
namespace {

// Spans ahead: 8 neurons of 4 spans, as far as the sparse kernels fetch their listed rows.
constexpr std::size_t kAhead = 32;

struct Job {
  const std::vector<Span>* spans;
  std::size_t per_task;
  std::atomic<std::uint64_t> sink{0};  // Keeps the sums observable.
};

void ReadTask(void* context, std::size_t task) {
  Job& job = *static_cast<Job*>(context);
  const std::vector<Span>& spans = *job.spans;
  const std::size_t begin = task * job.per_task;
  const std::size_t end = std::min(spans.size(), begin + job.per_task);
  std::uint64_t sum = 0;
  for (std::size_t i = begin; i < end; ++i) {
    if (i + kAhead < end) {
      kernels::internal::PrefetchBytes(spans[i + kAhead].data, spans[i + kAhead].bytes);
    }
    sum ^= ReadBytes(spans[i].data, spans[i].bytes);
  }
  job.sink.fetch_xor(sum, std::memory_order_relaxed);
}

}  // namespace

void ReadSpans(const std::vector<Span>& spans) {
  kernels::ThreadPool& pool = kernels::ThreadPool::Default();
  Job job;
  job.spans = &spans;
  const std::size_t tasks =
      std::clamp<std::size_t>(spans.size(), 1, static_cast<std::size_t>(pool.num_threads()));
  job.per_task = (spans.size() + tasks - 1) / tasks;
  pool.Run(tasks, ReadTask, &job);
}

}  // namespace ghost::bench
