#include "bench/memory_bandwidth.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "bench/read_bytes.h"
#include "kernels/cpu/thread_pool.h"

namespace ghost::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Job {
  float* data;
  std::size_t floats;
  std::size_t tasks;
  std::vector<std::uint64_t>* sums;  // One per task, so the reads cannot be optimized away.
};

std::size_t TaskBegin(const Job& job, std::size_t task) {
  return job.floats / job.tasks * task / 16 * 16;
}
std::size_t TaskEnd(const Job& job, std::size_t task) {
  return task + 1 == job.tasks ? job.floats : TaskBegin(job, task + 1);
}

void FillTask(void* context, std::size_t task) {
  const Job& job = *static_cast<Job*>(context);
  // Touching every page first keeps page faults out of the timed passes.
  std::fill(job.data + TaskBegin(job, task), job.data + TaskEnd(job, task), 1.0f);
}

void SumTask(void* context, std::size_t task) {
  const Job& job = *static_cast<Job*>(context);
  const std::size_t begin = TaskBegin(job, task);
  (*job.sums)[task] = ReadBytes(job.data + begin, (TaskEnd(job, task) - begin) * sizeof(float));
}

}  // namespace

BandwidthResult MeasureReadBandwidth(void* buffer, std::size_t bytes, double min_seconds) {
  kernels::ThreadPool& pool = kernels::ThreadPool::Default();
  const std::size_t floats = bytes / sizeof(float) / 32 * 32;
  // Several tasks per thread, as the matmuls use: a thread that loses its core to other
  // load then holds up only a small task, and both measurements see the same effect.
  std::vector<std::uint64_t> sums(pool.num_threads() * std::size_t{8});
  Job job{static_cast<float*>(buffer), floats, sums.size(), &sums};
  pool.Run(job.tasks, FillTask, &job);

  BandwidthResult result;
  result.bytes = floats * sizeof(float);
  result.threads = pool.num_threads();
  result.best_seconds = 1e30;
  const Clock::time_point start = Clock::now();
  for (int pass = 0; pass < 3 || Clock::now() - start < std::chrono::duration<double>(min_seconds);
       ++pass) {
    const Clock::time_point t0 = Clock::now();
    pool.Run(job.tasks, SumTask, &job);
    result.best_seconds =
        std::min(result.best_seconds, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  result.gb_per_s = static_cast<double>(result.bytes) / result.best_seconds / 1e9;
  return result;
}

std::size_t CopiesToDefeatCache(std::size_t bytes_per_copy) {
  // The last-level cache, where the OS reports it; virtual machines often hide it.
  const long reported = sysconf(_SC_LEVEL3_CACHE_SIZE);
  constexpr std::size_t kAssumed = std::size_t{32} << 20;
  const std::size_t cache = reported > 0 ? std::max<std::size_t>(reported, kAssumed) : kAssumed;
  return std::max<std::size_t>(2, (4 * cache + bytes_per_copy - 1) / bytes_per_copy);
}

}  // namespace ghost::bench
