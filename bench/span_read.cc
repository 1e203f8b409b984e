// ReadSpans: SSE sums over each thread's share of the spans (the bandwidth pass's loop), the
// spans kAhead ahead prefetched.
#include "bench/span_read.h"

#include <emmintrin.h>

#include <algorithm>
#include <atomic>

#include "kernels/cpu/prefetch.h"
#include "kernels/cpu/thread_pool.h"

namespace ghost::bench {
namespace {

// Spans ahead: 8 neurons of 4 spans, as far as the sparse kernels fetch their listed rows.
constexpr std::size_t kAhead = 32;

struct Job {
  const std::vector<Span>* spans;
  std::size_t per_task;
  std::atomic<int> sink{0};  // Keeps the sums observable.
};

int SumBytes(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const __m128i*>(data);
  __m128i a = _mm_setzero_si128(), b = a, c = a, d = a;
  std::size_t i = 0;
  for (; (i + 4) * 16 <= bytes; i += 4) {
    a = _mm_xor_si128(a, _mm_loadu_si128(p + i));
    b = _mm_xor_si128(b, _mm_loadu_si128(p + i + 1));
    c = _mm_xor_si128(c, _mm_loadu_si128(p + i + 2));
    d = _mm_xor_si128(d, _mm_loadu_si128(p + i + 3));
  }
  for (; (i + 1) * 16 <= bytes; ++i) a = _mm_xor_si128(a, _mm_loadu_si128(p + i));
  return _mm_cvtsi128_si32(_mm_xor_si128(_mm_xor_si128(a, b), _mm_xor_si128(c, d)));
}

void ReadTask(void* context, std::size_t task) {
  Job& job = *static_cast<Job*>(context);
  const std::vector<Span>& spans = *job.spans;
  const std::size_t begin = task * job.per_task;
  const std::size_t end = std::min(spans.size(), begin + job.per_task);
  int sum = 0;
  for (std::size_t i = begin; i < end; ++i) {
    if (i + kAhead < end) {
      kernels::internal::PrefetchBytes(spans[i + kAhead].data, spans[i + kAhead].bytes);
    }
    sum ^= SumBytes(spans[i].data, spans[i].bytes);
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
