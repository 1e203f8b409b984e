// ghostbench kernels: measures the machine's read bandwidth, then the CPU matmuls at
// decode-like n on Llama-sized weights, reported as weight GB/s and as a fraction of that
// bandwidth. Weight copies are rotated so that every call reads its weights from memory.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/huge_buffer.h"
#include "bench/memory_bandwidth.h"
#include "bench/subcommands.h"
#include "kernels/cpu/matmul.h"
#include "nlohmann/json.hpp"

namespace ghost::bench {
namespace {

using Clock = std::chrono::steady_clock;
using kernels::CpuIsa;

struct Options {
  bool json = false;
  bool quick = false;    // Small shapes and buffers: a smoke run for tests.
  double seconds = 1.0;  // Timed per case.
  CpuIsa isa = kernels::DetectedIsa();
};

struct Shape {
  std::size_t rows;
  std::size_t cols;
};

struct CaseResult {
  std::string kernel;
  Shape shape;
  std::size_t n;
  std::size_t copies;
  std::size_t calls;
  double seconds_per_call;
  double weight_gb_per_s;
  double ratio_to_bandwidth;
};

bool ParseIsa(const char* name, CpuIsa* isa) {
  for (CpuIsa candidate : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    if (std::strcmp(name, kernels::IsaName(candidate)) == 0) {
      *isa = candidate;
      return true;
    }
  }
  return false;
}

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      options->json = true;
    } else if (arg == "--quick") {
      options->quick = true;
    } else if (arg == "--seconds" && i + 1 < argc) {
      char* end = nullptr;
      options->seconds = std::strtod(argv[++i], &end);
      if (*end != '\0' || !(options->seconds > 0)) return false;
    } else if (arg == "--isa" && i + 1 < argc) {
      if (!ParseIsa(argv[++i], &options->isa)) return false;
    } else {
      return false;
    }
  }
  return true;
}

// The last-level cache, where the OS reports it; virtual machines often hide it.
std::size_t LastLevelCacheBytes() {
  const long reported = sysconf(_SC_LEVEL3_CACHE_SIZE);
  constexpr std::size_t kAssumed = std::size_t{32} << 20;
  return reported > 0 ? std::max<std::size_t>(reported, kAssumed) : kAssumed;
}

// Deterministic values in [-1, 1): timing does not depend on them, only denormals would.
void FillPseudoRandom(float* values, std::size_t count, std::uint32_t seed) {
  std::uint32_t state = seed * 2654435761u + 1;
  for (std::size_t i = 0; i < count; ++i) {
    state = state * 1664525u + 1013904223u;
    values[i] = static_cast<float>(state >> 8) / static_cast<float>(1u << 23) - 1.0f;
  }
}

// Enough copies that the ones not in use exceed 4x the last-level cache: every call then
// reads its weights from memory.
std::size_t WeightCopies(const Options& options, std::size_t weight_bytes) {
  if (options.quick) return 2;
  return std::max<std::size_t>(2, (4 * LastLevelCacheBytes() + weight_bytes - 1) / weight_bytes);
}

template <typename Weight>
CaseResult RunCase(const Options& options, Shape shape, std::size_t n, double bandwidth,
                   HugeBuffer& arena) {
  const std::size_t weights = shape.rows * shape.cols;
  const std::size_t weight_bytes = weights * sizeof(Weight);
  const std::size_t copies = WeightCopies(options, weight_bytes);
  Weight* const first = static_cast<Weight*>(arena.data());
  if constexpr (sizeof(Weight) == sizeof(float)) {
    FillPseudoRandom(first, weights, 1);
  } else {
    std::vector<float> values(weights);
    FillPseudoRandom(values.data(), weights, 1);
    for (std::size_t j = 0; j < weights; ++j) first[j] = kernels::F32ToBf16(values[j]);
  }
  std::vector<const Weight*> w(copies);
  for (std::size_t i = 0; i < copies; ++i) {
    Weight* copy = first + i * weights;
    if (i > 0) std::memcpy(copy, first, weight_bytes);
    w[i] = copy;
  }
  std::vector<float> x(n * shape.cols);
  FillPseudoRandom(x.data(), x.size(), 2);
  std::vector<float> y(n * shape.rows);
  const auto call = [&](std::size_t copy) {
    if constexpr (sizeof(Weight) == sizeof(float)) {
      kernels::MatMulF32Isa(options.isa, x.data(), n, w[copy], shape.rows, shape.cols, y.data());
    } else {
      kernels::MatMulBf16Isa(options.isa, x.data(), n, w[copy], shape.rows, shape.cols, y.data());
    }
  };
  for (std::size_t i = 0; i < copies; ++i) call(i);  // Warm up: page tables, pool threads.

  std::size_t calls = 0;
  const Clock::time_point start = Clock::now();
  double elapsed = 0;
  do {
    call(calls % copies);
    ++calls;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < options.seconds || calls < copies);

  CaseResult result;
  result.kernel = std::string(sizeof(Weight) == sizeof(float) ? "MatMulF32" : "MatMulBf16");
  result.shape = shape;
  result.n = n;
  result.copies = copies;
  result.calls = calls;
  result.seconds_per_call = elapsed / static_cast<double>(calls);
  result.weight_gb_per_s = static_cast<double>(weight_bytes) / result.seconds_per_call / 1e9;
  result.ratio_to_bandwidth = result.weight_gb_per_s / bandwidth;
  return result;
}

void PrintTable(const Options& options, const BandwidthResult& bandwidth,
                const std::vector<CaseResult>& results) {
  std::printf("read bandwidth: %.1f GB/s (%d threads, %.2f GiB buffer)\n", bandwidth.gb_per_s,
              bandwidth.threads, static_cast<double>(bandwidth.bytes) / (1 << 30));
  std::printf("isa: %s\n\n", kernels::IsaName(options.isa));
  std::printf("%-11s %-12s %4s %12s %12s %8s\n", "kernel", "shape", "n", "ms/call", "weight GB/s",
              "ratio");
  for (const CaseResult& r : results) {
    const std::string shape = std::to_string(r.shape.rows) + "x" + std::to_string(r.shape.cols);
    std::printf("%-11s %-12s %4zu %12.3f %12.1f %8.2f\n", r.kernel.c_str(), shape.c_str(), r.n,
                r.seconds_per_call * 1e3, r.weight_gb_per_s, r.ratio_to_bandwidth);
  }
}

void PrintJson(const Options& options, const BandwidthResult& bandwidth,
               const std::vector<CaseResult>& results) {
  nlohmann::json out;
  out["isa"] = kernels::IsaName(options.isa);
  out["quick"] = options.quick;
  out["bandwidth"] = {{"bytes", bandwidth.bytes},
                      {"seconds", bandwidth.best_seconds},
                      {"gb_per_s", bandwidth.gb_per_s},
                      {"threads", bandwidth.threads}};
  out["results"] = nlohmann::json::array();
  for (const CaseResult& r : results) {
    out["results"].push_back({{"kernel", r.kernel},
                              {"rows", r.shape.rows},
                              {"cols", r.shape.cols},
                              {"n", r.n},
                              {"weight_copies", r.copies},
                              {"calls", r.calls},
                              {"seconds_per_call", r.seconds_per_call},
                              {"weight_gb_per_s", r.weight_gb_per_s},
                              {"ratio_to_bandwidth", r.ratio_to_bandwidth}});
  }
  std::printf("%s\n", out.dump(2).c_str());
}

}  // namespace

int RunKernels(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    std::fprintf(stderr,
                 "usage: ghostbench kernels [--json] [--seconds S] [--quick] "
                 "[--isa scalar|avx2|avx512]\n");
    return 2;
  }
  if (!kernels::IsaSupported(options.isa)) {
    std::fprintf(stderr, "this CPU does not support %s\n", kernels::IsaName(options.isa));
    return 2;
  }
  // Llama-3-8B's MLP (4096 x 14336) and a TinyLlama-sized one (2048 x 5632).
  const std::vector<Shape> shapes = options.quick ? std::vector<Shape>{{256, 1024}, {100, 333}}
                                                  : std::vector<Shape>{{4096, 14336}, {2048, 5632}};
  // One buffer serves the bandwidth pass and then every case's weight copies, so its pages
  // are faulted in once.
  const std::size_t bandwidth_bytes = options.quick ? std::size_t{64} << 20 : std::size_t{1} << 30;
  std::size_t arena_bytes = bandwidth_bytes;
  for (const Shape& shape : shapes) {
    const std::size_t f32_bytes = shape.rows * shape.cols * sizeof(float);
    arena_bytes = std::max(arena_bytes, f32_bytes * WeightCopies(options, f32_bytes));
    const std::size_t bf16_bytes = f32_bytes / 2;
    arena_bytes = std::max(arena_bytes, bf16_bytes * WeightCopies(options, bf16_bytes));
  }
  HugeBuffer arena(arena_bytes);
  const BandwidthResult bandwidth =
      MeasureReadBandwidth(arena.data(), bandwidth_bytes, options.quick ? options.seconds : 2.0);

  std::vector<CaseResult> results;
  for (const Shape& shape : shapes) {
    for (std::size_t n : {1, 8}) {
      results.push_back(RunCase<float>(options, shape, n, bandwidth.gb_per_s, arena));
      results.push_back(RunCase<std::uint16_t>(options, shape, n, bandwidth.gb_per_s, arena));
    }
  }
  if (options.json) {
    PrintJson(options, bandwidth, results);
  } else {
    PrintTable(options, bandwidth, results);
  }
  return 0;
}

}  // namespace ghost::bench
