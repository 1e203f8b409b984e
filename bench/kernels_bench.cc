// ghostbench kernels: measures the machine's read bandwidth, then the CPU matmuls (fp32,
// bf16, fp16 and the low-bit formats at block sizes 64 and 256; for ternary-2bit and codebook
// at block size 64 also the fp32-activation path, rows "f32-act") at decode-like n on
// Llama-sized weights, reported as weight GB/s (every byte the kernel reads: codes, scales,
// codebooks) and as a fraction of that bandwidth. Weight copies are rotated so that every
// call reads its weights from memory.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench/best_round.h"
#include "bench/cpu_summary.h"
#include "bench/huge_buffer.h"
#include "bench/memory_bandwidth.h"
#include "bench/subcommands.h"
#include "engine/compress/fp16.h"
#include "engine/formats/weight_format.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quant_matmul.h"
#include "nlohmann/json.hpp"

namespace ghost::bench {
namespace {

using kernels::CpuIsa;

struct Options {
  bool json = false;
  bool quick = false;    // Small shapes and buffers: a smoke run for tests.
  double seconds = 1.0;  // Timed per case.
  CpuIsa isa = kernels::DetectedIsa();
  std::optional<WeightFormat> only;  // Run only this format's cases (nullopt: every format).
  // Tokens per call, each case run once per entry: a decode step (1) and a small batch (8) by
  // default; --tokens 1,2,4,8,16,32,64 sweeps the batched products' tile widths.
  std::vector<std::size_t> tokens = {1, 8};

  bool Runs(WeightFormat format) const { return !only || *only == format; }
};

struct Shape {
  std::size_t rows;
  std::size_t cols;
};

struct CaseResult {
  std::string kernel;
  std::string format;          // f32, bf16, f16, or a low-bit format name
  std::size_t block_size = 0;  // Low-bit formats only.
  Shape shape;
  std::size_t n;
  std::size_t copies;
  std::size_t calls;
  double seconds_per_call;
  double weight_gb_per_s;
  double ratio_to_bandwidth;
  // Low-bit products: the roofline time, max(bytes / bandwidth, n x rows x cols multiply-adds /
  // int8 dot peak), over the measured time.
  double ratio_to_roofline = 0;
};

// The machine's figures that every ratio refers to, printed as one line per run.
struct Machine {
  std::string cpu;
  std::string isa_flags;
  BandwidthResult bandwidth;
  Int8DotPeak int8_peak;
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

// A comma-separated list of token counts, each 1..kMaxTokens.
bool ParseTokenCounts(const char* list, std::vector<std::size_t>* tokens) {
  constexpr unsigned long kMaxTokens = 256;
  tokens->clear();
  const char* p = list;
  while (true) {
    char* end = nullptr;
    const unsigned long n = std::strtoul(p, &end, 10);
    if (end == p || n == 0 || n > kMaxTokens) return false;
    tokens->push_back(n);
    if (*end == '\0') return true;
    if (*end != ',') return false;
    p = end + 1;
  }
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
    } else if (arg == "--only" && i + 1 < argc) {
      options->only = ParseWeightFormat(argv[++i]);
      if (!options->only) return false;
    } else if (arg == "--tokens" && i + 1 < argc) {
      if (!ParseTokenCounts(argv[++i], &options->tokens)) return false;
    } else {
      return false;
    }
  }
  return true;
}

// Deterministic values in [-1, 1): timing does not depend on them, only denormals would.
void FillPseudoRandom(float* values, std::size_t count, std::uint32_t seed) {
  std::uint32_t state = seed * 2654435761u + 1;
  for (std::size_t i = 0; i < count; ++i) {
    state = state * 1664525u + 1013904223u;
    values[i] = static_cast<float>(state >> 8) / static_cast<float>(1u << 23) - 1.0f;
  }
}

std::size_t WeightCopies(const Options& options, std::size_t weight_bytes) {
  return options.quick ? 2 : CopiesToDefeatCache(weight_bytes);
}

template <typename Call>
void TimeCalls(const Options& options, std::size_t copies, Call call, CaseResult* result) {
  const BestRound timing = TimeBestRound(options.seconds, copies, call);
  result->copies = copies;
  result->calls = timing.calls;
  result->seconds_per_call = timing.seconds_per_call;
}

// format: kF32 with Weight float, kBF16 or kF16 with Weight std::uint16_t.
template <typename Weight>
CaseResult RunCase(const Options& options, WeightFormat format, Shape shape, std::size_t n,
                   double bandwidth, HugeBuffer& arena) {
  const std::size_t weights = shape.rows * shape.cols;
  const std::size_t weight_bytes = weights * sizeof(Weight);
  const std::size_t copies = WeightCopies(options, weight_bytes);
  Weight* const first = static_cast<Weight*>(arena.data());
  if constexpr (sizeof(Weight) == sizeof(float)) {
    FillPseudoRandom(first, weights, 1);
  } else {
    std::vector<float> values(weights);
    FillPseudoRandom(values.data(), weights, 1);
    for (std::size_t j = 0; j < weights; ++j) {
      first[j] = format == WeightFormat::kBF16 ? kernels::F32ToBf16(values[j])
                                               : compress::F32ToF16(values[j]);
    }
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
    } else if (format == WeightFormat::kBF16) {
      kernels::MatMulBf16Isa(options.isa, x.data(), n, w[copy], shape.rows, shape.cols, y.data());
    } else {
      kernels::MatMulF16Isa(options.isa, x.data(), n, w[copy], shape.rows, shape.cols, y.data());
    }
  };
  CaseResult result;
  TimeCalls(options, copies, call, &result);
  result.kernel = format == WeightFormat::kF32    ? "MatMulF32"
                  : format == WeightFormat::kBF16 ? "MatMulBf16"
                                                  : "MatMulF16";
  result.format = WeightFormatName(format);
  result.shape = shape;
  result.n = n;
  result.weight_gb_per_s = static_cast<double>(weight_bytes) / result.seconds_per_call / 1e9;
  result.ratio_to_bandwidth = result.weight_gb_per_s / bandwidth;
  return result;
}

// Random valid codes and scales in the storage format, repacked once; the content does
// not change the timing.
kernels::QuantWeights RandomQuantWeights(WeightFormat format, Shape shape, std::size_t block_size) {
  std::mt19937 rng(3);
  std::vector<std::uint8_t> codes(shape.rows * BytesPerRow(format, shape.cols, block_size));
  for (std::uint8_t& byte : codes) {
    if (format == WeightFormat::kTernaryBase3) {
      byte = static_cast<std::uint8_t>(rng() % 243);
    } else {  // Four 2-bit fields, each a valid ternary code (0..2) or codebook index.
      byte = static_cast<std::uint8_t>((rng() % 3) | (rng() % 3) << 2 | (rng() % 3) << 4 |
                                       (rng() % 3) << 6);
    }
  }
  const std::size_t blocks_per_row = (shape.cols + block_size - 1) / block_size;
  std::vector<std::uint16_t> scales(shape.rows * blocks_per_row);
  for (std::uint16_t& scale : scales) scale = static_cast<std::uint16_t>(0x2000 + rng() % 0x400);
  constexpr std::size_t kCodebookGroupRows = 64;
  std::vector<std::uint16_t> codebook;
  for (std::size_t g = 0; g * kCodebookGroupRows < shape.rows; ++g) {
    codebook.insert(codebook.end(), {0xbe00, 0xb800, 0x3800, 0x3e00});  // -1.5 -0.5 0.5 1.5
  }
  kernels::QuantMatrixView view;
  view.format = format;
  view.rows = shape.rows;
  view.cols = shape.cols;
  view.block_size = block_size;
  view.codes = codes.data();
  view.scales = scales.data();
  view.codebook = codebook.data();
  view.codebook_group_rows = kCodebookGroupRows;
  return kernels::QuantWeights::Prepare(view);
}

// f32_activations: MatMulQuantF32 rather than MatMulQuant (int8 activations).
CaseResult RunQuantCase(const Options& options, const std::vector<kernels::QuantWeights>& w,
                        std::size_t n, bool f32_activations, const Machine& machine) {
  const double bandwidth = machine.bandwidth.gb_per_s;
  const Shape shape{w[0].rows(), w[0].cols()};
  std::vector<float> x(n * shape.cols);
  FillPseudoRandom(x.data(), x.size(), 2);
  std::vector<float> y(n * shape.rows);
  CaseResult result;
  TimeCalls(
      options, w.size(),
      [&](std::size_t copy) {
        if (f32_activations) {
          kernels::MatMulQuantF32Isa(options.isa, x.data(), n, w[copy], y.data());
        } else {
          kernels::MatMulQuantIsa(options.isa, x.data(), n, w[copy], y.data());
        }
      },
      &result);
  result.kernel = f32_activations ? "MatMulQuantF32" : "MatMulQuant";
  result.format = WeightFormatName(w[0].format());
  result.block_size = w[0].block_size();
  result.shape = shape;
  result.n = n;
  result.weight_gb_per_s = static_cast<double>(w[0].bytes()) / result.seconds_per_call / 1e9;
  result.ratio_to_bandwidth = result.weight_gb_per_s / bandwidth;
  if (!f32_activations && machine.int8_peak.macs_per_s > 0) {
    const double memory_s = static_cast<double>(w[0].bytes()) / (bandwidth * 1e9);
    const double compute_s =
        static_cast<double>(n * shape.rows * shape.cols) / machine.int8_peak.macs_per_s;
    result.ratio_to_roofline = std::max(memory_s, compute_s) / result.seconds_per_call;
  }
  return result;
}

void PrintTable(const Options& options, const Machine& machine,
                const std::vector<CaseResult>& results) {
  const BandwidthResult& bandwidth = machine.bandwidth;
  std::printf(
      "cpu: %s | kernels %s | read %.1f GB/s | int8 dot peak %.0f GMAC/s (%s) | %d threads\n",
      machine.cpu.c_str(), machine.isa_flags.c_str(), bandwidth.gb_per_s,
      machine.int8_peak.macs_per_s / 1e9, machine.int8_peak.instruction.c_str(), bandwidth.threads);
  std::printf("read bandwidth: %.1f GB/s (%d threads, %.2f GiB buffer)\n", bandwidth.gb_per_s,
              bandwidth.threads, static_cast<double>(bandwidth.bytes) / (1 << 30));
  std::printf("isa: %s\n\n", kernels::IsaName(options.isa));
  std::printf("%-26s %-12s %4s %12s %12s %8s %9s\n", "weights", "shape", "n", "ms/call",
              "weight GB/s", "ratio", "roofline");
  for (const CaseResult& r : results) {
    const std::string shape = std::to_string(r.shape.rows) + "x" + std::to_string(r.shape.cols);
    std::string weights = r.format;
    if (r.block_size > 0) weights += "/b" + std::to_string(r.block_size);
    if (r.kernel == "MatMulQuantF32") weights += " f32-act";
    std::printf("%-26s %-12s %4zu %12.3f %12.1f %8.2f", weights.c_str(), shape.c_str(), r.n,
                r.seconds_per_call * 1e3, r.weight_gb_per_s, r.ratio_to_bandwidth);
    if (r.ratio_to_roofline > 0) std::printf(" %9.2f", r.ratio_to_roofline);
    std::printf("\n");
  }
}

void PrintJson(const Options& options, const Machine& machine,
               const std::vector<CaseResult>& results) {
  const BandwidthResult& bandwidth = machine.bandwidth;
  nlohmann::json out;
  out["cpu"] = {{"model", machine.cpu},
                {"kernels", machine.isa_flags},
                {"read_gb_per_s", bandwidth.gb_per_s},
                {"int8_dot_instruction", machine.int8_peak.instruction},
                {"int8_dot_gmacs_per_s", machine.int8_peak.macs_per_s / 1e9}};
  out["isa"] = kernels::IsaName(options.isa);
  out["quick"] = options.quick;
  out["bandwidth"] = {{"bytes", bandwidth.bytes},
                      {"seconds", bandwidth.best_seconds},
                      {"gb_per_s", bandwidth.gb_per_s},
                      {"threads", bandwidth.threads}};
  out["results"] = nlohmann::json::array();
  for (const CaseResult& r : results) {
    out["results"].push_back({{"kernel", r.kernel},
                              {"format", r.format},
                              {"block_size", r.block_size},
                              {"rows", r.shape.rows},
                              {"cols", r.shape.cols},
                              {"n", r.n},
                              {"weight_copies", r.copies},
                              {"calls", r.calls},
                              {"seconds_per_call", r.seconds_per_call},
                              {"weight_gb_per_s", r.weight_gb_per_s},
                              {"ratio_to_bandwidth", r.ratio_to_bandwidth},
                              {"ratio_to_roofline", r.ratio_to_roofline}});
  }
  std::printf("%s\n", out.dump(2).c_str());
}

}  // namespace

int RunKernels(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    std::fprintf(stderr,
                 "usage: ghostbench kernels [--json] [--seconds S] [--quick] "
                 "[--isa scalar|avx2|avx512] [--only f32|bf16|f16|ternary-2bit|ternary-base3|"
                 "codebook-2bit] [--tokens N,N,...]\n");
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
    const std::size_t half_bytes = f32_bytes / 2;  // bf16 and f16
    arena_bytes = std::max(arena_bytes, half_bytes * WeightCopies(options, half_bytes));
  }
  HugeBuffer arena(arena_bytes);
  Machine machine;
  machine.cpu = CpuModelName();
  machine.isa_flags = KernelIsaFlags();
  machine.bandwidth =
      MeasureReadBandwidth(arena.data(), bandwidth_bytes, options.quick ? options.seconds : 2.0);
  machine.int8_peak = MeasureInt8DotPeak(options.quick ? options.seconds : 0.5);
  const BandwidthResult& bandwidth = machine.bandwidth;

  std::vector<CaseResult> results;
  for (const Shape& shape : shapes) {
    for (std::size_t n : options.tokens) {
      const double gb_per_s = bandwidth.gb_per_s;
      if (options.Runs(WeightFormat::kF32)) {
        results.push_back(RunCase<float>(options, WeightFormat::kF32, shape, n, gb_per_s, arena));
      }
      if (options.Runs(WeightFormat::kBF16)) {
        results.push_back(
            RunCase<std::uint16_t>(options, WeightFormat::kBF16, shape, n, gb_per_s, arena));
      }
      if (options.Runs(WeightFormat::kF16)) {
        results.push_back(
            RunCase<std::uint16_t>(options, WeightFormat::kF16, shape, n, gb_per_s, arena));
      }
    }
  }
  for (const Shape& shape : shapes) {
    for (const WeightFormatTraits& traits : kWeightFormats) {
      const WeightFormat format = traits.format;
      if (!traits.block_quantized || !options.Runs(format)) continue;
      for (std::size_t block_size : {64, 256}) {
        // Copies of one repacked matrix; freed before the next format.
        std::vector<kernels::QuantWeights> copies(1, RandomQuantWeights(format, shape, block_size));
        copies.resize(WeightCopies(options, copies[0].bytes()), copies[0]);
        for (std::size_t n : options.tokens) {
          results.push_back(RunQuantCase(options, copies, n, false, machine));
        }
        if (block_size == 64 && format != WeightFormat::kTernaryBase3) {
          for (std::size_t n : options.tokens) {
            results.push_back(RunQuantCase(options, copies, n, true, machine));
          }
        }
      }
    }
  }
  if (options.json) {
    PrintJson(options, machine, results);
  } else {
    PrintTable(options, machine, results);
  }
  return 0;
}

}  // namespace ghost::bench
