#include "bench/cpu_summary.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <fstream>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/thread_pool.h"

namespace ghost::bench {
namespace {

// Accumulator chains per loop: more than latency x throughput (4 x 2) of any current core.
constexpr int kChains = 12;
constexpr std::int64_t kIterations = 1 << 18;

// Each returns the multiply-adds it did; the sum of its chains is stored so that none is
// optimized away.
__attribute__((target("avx512f,avx512vnni"))) std::int64_t DotLoopAvx512Vnni(std::int32_t* sink) {
  __m512i acc[kChains];
  for (__m512i& a : acc) a = _mm512_setzero_si512();
  const __m512i u = _mm512_set1_epi8(3), s = _mm512_set1_epi8(-2);
  for (std::int64_t i = 0; i < kIterations; ++i) {
#pragma GCC unroll 16
    for (__m512i& a : acc) a = _mm512_dpbusd_epi32(a, u, s);
  }
  __m512i total = acc[0];
  for (int c = 1; c < kChains; ++c) total = _mm512_add_epi32(total, acc[c]);
  *sink = _mm512_reduce_add_epi32(total);
  return kIterations * kChains * 64;
}

__attribute__((target("avx2,avxvnni"))) std::int64_t DotLoopAvxVnni(std::int32_t* sink) {
  __m256i acc[kChains];
  for (__m256i& a : acc) a = _mm256_setzero_si256();
  const __m256i u = _mm256_set1_epi8(3), s = _mm256_set1_epi8(-2);
  for (std::int64_t i = 0; i < kIterations; ++i) {
#pragma GCC unroll 16
    for (__m256i& a : acc) a = _mm256_dpbusd_avx_epi32(a, u, s);
  }
  __m256i total = acc[0];
  for (int c = 1; c < kChains; ++c) total = _mm256_add_epi32(total, acc[c]);
  *sink = _mm256_extract_epi32(total, 0);
  return kIterations * kChains * 32;
}

__attribute__((target("avx2"))) std::int64_t DotLoopAvx2(std::int32_t* sink) {
  __m256i acc[kChains];
  for (__m256i& a : acc) a = _mm256_setzero_si256();
  const __m256i u = _mm256_set1_epi8(3), s = _mm256_set1_epi8(-2), ones = _mm256_set1_epi16(1);
  for (std::int64_t i = 0; i < kIterations; ++i) {
#pragma GCC unroll 16
    for (__m256i& a : acc) {
      a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), ones));
    }
  }
  __m256i total = acc[0];
  for (int c = 1; c < kChains; ++c) total = _mm256_add_epi32(total, acc[c]);
  *sink = _mm256_extract_epi32(total, 0);
  return kIterations * kChains * 32;
}

struct PeakJob {
  std::int64_t (*loop)(std::int32_t*);
  std::int32_t sinks[256];
  double cpu_seconds[256];  // of each task's loop
};

double ThreadCpuSeconds() {
  timespec now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

void RunLoop(void* context, std::size_t task) {
  PeakJob& job = *static_cast<PeakJob*>(context);
  const double start = ThreadCpuSeconds();
  job.loop(&job.sinks[task % 256]);
  job.cpu_seconds[task % 256] = ThreadCpuSeconds() - start;
}

}  // namespace

std::string CpuModelName() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const std::size_t colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

std::string KernelIsaFlags() {
  const kernels::CpuIsa isa = kernels::DetectedIsa();
  std::string flags = kernels::IsaName(isa);
  if (isa == kernels::CpuIsa::kAvx512) {
    if (__builtin_cpu_supports("avx512vnni")) flags += " +vnni";
    if (__builtin_cpu_supports("avx512vbmi")) flags += " +vbmi";
    if (kernels::AmxEnabled()) flags += " +amx";
  }
  return flags;
}

Int8DotPeak MeasureInt8DotPeak(double seconds) {
  PeakJob job{};
  Int8DotPeak peak;
  std::int64_t macs_per_loop = 0;
  if (__builtin_cpu_supports("avx512vnni")) {
    job.loop = DotLoopAvx512Vnni;
    peak.instruction = "vpdpbusd zmm";
  } else if (__builtin_cpu_supports("avxvnni")) {
    job.loop = DotLoopAvxVnni;
    peak.instruction = "vpdpbusd ymm";
  } else if (__builtin_cpu_supports("avx2")) {
    job.loop = DotLoopAvx2;
    peak.instruction = "vpmaddubsw+vpmaddwd ymm";
  } else {
    return peak;
  }
  std::int32_t sink = 0;
  macs_per_loop = job.loop(&sink);  // warm-up: the wide units power up
  kernels::ThreadPool& pool = kernels::ThreadPool::Default();
  peak.threads = pool.num_threads();
  // Each loop is timed in its thread's CPU time, so that a thread that loses its core to other
  // load for a while does not lower the figure: it is the rate of a core we have, times the
  // threads.
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  double best = 1e30;
  for (int pass = 0; pass < 3 || Clock::now() - start < std::chrono::duration<double>(seconds);
       ++pass) {
    pool.Run(static_cast<std::size_t>(peak.threads), RunLoop, &job);
    for (int t = 0; t < peak.threads && t < 256; ++t) best = std::min(best, job.cpu_seconds[t]);
  }
  peak.macs_per_s = static_cast<double>(macs_per_loop) * peak.threads / best;
  return peak;
}

}  // namespace ghost::bench
