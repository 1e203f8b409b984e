// ghostbench sparse: the dense SwiGLU MLP projections (up, then down over every neuron)
// against the row-packed sparse MLP (kernels/cpu/sparse_mlp.h) at several activation
// sparsities, on TinyLlama's MLP shape, one decode token. Reports the speedup and its
// fraction of the ideal 1 / (1 - sparsity). The gate projection is the same in both and
// left out. Weight copies are rotated so that every call reads its weights from memory.
// The same run also times reading only the active neurons' rows (span_read.h) against
// reading every row: the speedup that skipping rows can give on this machine at all, which
// the kernel's speedup is reported against too.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "bench/best_round.h"
#include "bench/memory_bandwidth.h"
#include "bench/span_read.h"
#include "bench/subcommands.h"
#include "engine/compress/fp16.h"
#include "engine/formats/weight_format.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quant_matmul.h"
#include "kernels/cpu/sparse_mlp.h"
#include "nlohmann/json.hpp"

namespace ghost::bench {
namespace {

using kernels::CpuIsa;

struct Options {
  bool json = false;
  bool quick = false;  // Tiny shapes and 2 weight copies: a smoke run for tests.
  double seconds = 1.0;
  std::size_t hidden = 2048;
  std::size_t inner = 5632;
  CpuIsa isa = kernels::DetectedIsa();
};

bool ParseSize(const char* text, std::size_t* value) {
  char* end = nullptr;
  const unsigned long long parsed = std::strtoull(text, &end, 10);
  if (*end != '\0' || parsed == 0) return false;
  *value = parsed;
  return true;
}

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--json") {
      options->json = true;
    } else if (arg == "--quick") {
      options->quick = true;
      options->hidden = 128;
      options->inner = 352;
    } else if (arg == "--seconds" && has_value) {
      char* end = nullptr;
      options->seconds = std::strtod(argv[++i], &end);
      if (*end != '\0' || !(options->seconds > 0)) return false;
    } else if (arg == "--hidden" && has_value) {
      if (!ParseSize(argv[++i], &options->hidden)) return false;
    } else if (arg == "--inner" && has_value) {
      if (!ParseSize(argv[++i], &options->inner)) return false;
    } else if (arg == "--isa" && has_value) {
      const std::string name = argv[++i];
      bool found = false;
      for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
        if (name == kernels::IsaName(isa)) {
          options->isa = isa;
          found = true;
        }
      }
      if (!found) return false;
    } else {
      return false;
    }
  }
  return true;
}

// The low-bit format measured, and its block size.
constexpr std::size_t kTernaryBlockSize = 64;

// "bf16", "f16", "ternary-2bit/b64": the format, and the block size of a low-bit one.
std::string FormatLabel(WeightFormat format) {
  std::string label = WeightFormatName(format);
  if (IsBlockQuantized(format)) label += "/b" + std::to_string(kTernaryBlockSize);
  return label;
}

// One copy of an MLP's up [inner, hidden], down [hidden, inner] (for the dense path) and
// down_t [inner, hidden] (for the sparse one), in bf16, fp16 or ternary-2bit.
struct MlpCopy {
  std::vector<std::uint16_t> up_half, down_half, down_t_half;  // bf16 or fp16 bits
  std::vector<kernels::QuantWeights> quant;                    // up, down, down_t
};

std::vector<std::uint16_t> RandomHalf(WeightFormat format, std::size_t count, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<std::uint16_t> values(count);
  for (std::uint16_t& v : values) {
    const float w = normal(rng);
    v = format == WeightFormat::kBF16 ? kernels::F32ToBf16(w) : compress::F32ToF16(w);
  }
  return values;
}

// The dense matrix-vector product y = w x of a [rows, cols] bf16 or fp16 matrix.
void MatMulHalf(CpuIsa isa, WeightFormat format, const float* x, const std::uint16_t* w,
                std::size_t rows, std::size_t cols, float* y) {
  if (format == WeightFormat::kBF16) {
    kernels::MatMulBf16Isa(isa, x, 1, w, rows, cols, y);
  } else {
    kernels::MatMulF16Isa(isa, x, 1, w, rows, cols, y);
  }
}

kernels::QuantWeights RandomTernary(std::size_t rows, std::size_t cols, std::mt19937& rng) {
  constexpr WeightFormat kFormat = WeightFormat::kTernary2Bit;
  std::vector<std::uint8_t> codes(rows * BytesPerRow(kFormat, cols, kTernaryBlockSize));
  for (std::uint8_t& byte : codes) {
    byte = static_cast<std::uint8_t>((rng() % 3) | (rng() % 3) << 2 | (rng() % 3) << 4 |
                                     (rng() % 3) << 6);
  }
  std::vector<std::uint16_t> scales(rows * ((cols + kTernaryBlockSize - 1) / kTernaryBlockSize),
                                    0x2000);
  kernels::QuantMatrixView view;
  view.format = kFormat;
  view.rows = rows;
  view.cols = cols;
  view.block_size = kTernaryBlockSize;
  view.codes = codes.data();
  view.scales = scales.data();
  return kernels::QuantWeights::Prepare(view);
}

// Per-call seconds of the fastest of several rounds of one call per copy (best_round.h).
double TimePerCall(const Options& options, std::size_t copies,
                   const std::function<void(std::size_t)>& call) {
  return TimeBestRound(options.seconds, copies, call).seconds_per_call;
}

struct Row {
  std::string format;
  double sparsity;
  std::size_t active;
  double dense_seconds;
  double sparse_seconds;
  double read_all_seconds;     // Every neuron's up and down_t rows, read only.
  double read_active_seconds;  // The active neurons' rows, read only.
};

// The rows the sparse MLP reads for the listed neurons of one copy: up and down_t codes and
// scales for low-bit weights, the bf16 or fp16 rows otherwise.
std::vector<Span> NeuronSpans(const MlpCopy& c, const std::vector<std::uint32_t>& neurons,
                              std::size_t hidden) {
  std::vector<Span> spans;
  for (std::uint32_t j : neurons) {
    if (!c.quant.empty()) {
      for (const kernels::QuantWeights* w : {&c.quant[0], &c.quant[2]}) {
        spans.push_back({w->row_codes(j), w->layout().row_bytes});
        spans.push_back({w->row_scales(j), w->layout().scale_stride * sizeof(std::uint16_t)});
      }
    } else {
      spans.push_back({c.up_half.data() + std::size_t{j} * hidden, hidden * 2});
      spans.push_back({c.down_t_half.data() + std::size_t{j} * hidden, hidden * 2});
    }
  }
  return spans;
}

// Seconds per ReadSpans call over each copy's spans for `neurons`.
double ReadSeconds(const Options& options, const std::vector<MlpCopy>& copies,
                   const std::vector<std::uint32_t>& neurons) {
  std::vector<std::vector<Span>> spans;
  for (const MlpCopy& c : copies) spans.push_back(NeuronSpans(c, neurons, options.hidden));
  return TimePerCall(options, copies.size(), [&](std::size_t i) { ReadSpans(spans[i]); });
}

// Dense and sparse timings of one format at every sparsity.
std::vector<Row> RunFormat(const Options& options, WeightFormat format) {
  const std::size_t hidden = options.hidden;
  const std::size_t inner = options.inner;
  const bool ternary = format == WeightFormat::kTernary2Bit;
  std::mt19937 rng(7);
  // Random weights once; the copies are byte copies of them (the content does not change
  // the timing).
  MlpCopy first;
  if (ternary) {
    first.quant.push_back(RandomTernary(inner, hidden, rng));
    first.quant.push_back(RandomTernary(hidden, inner, rng));
    first.quant.push_back(RandomTernary(inner, hidden, rng));
  } else {
    first.up_half = RandomHalf(format, inner * hidden, rng);
    first.down_half = RandomHalf(format, hidden * inner, rng);
    first.down_t_half = RandomHalf(format, inner * hidden, rng);
  }
  const std::size_t copy_bytes = ternary ? 3 * first.quant[0].bytes() : 3 * inner * hidden * 2;
  const std::size_t num_copies = options.quick ? 2 : CopiesToDefeatCache(copy_bytes);
  const std::vector<MlpCopy> copies(num_copies, first);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(hidden), h(inner), up_out(inner), out(hidden);
  for (float& v : x) v = normal(rng);

  // Dense: every neuron through both projections; h multiplies in between.
  const double dense = TimePerCall(options, num_copies, [&](std::size_t i) {
    const MlpCopy& c = copies[i];
    if (ternary) {
      kernels::MatMulQuantIsa(options.isa, x.data(), 1, c.quant[0], up_out.data());
    } else {
      MatMulHalf(options.isa, format, x.data(), c.up_half.data(), inner, hidden, up_out.data());
    }
    for (std::size_t j = 0; j < inner; ++j) up_out[j] *= h[j];
    if (ternary) {
      kernels::MatMulQuantIsa(options.isa, up_out.data(), 1, c.quant[1], out.data());
    } else {
      MatMulHalf(options.isa, format, up_out.data(), c.down_half.data(), hidden, inner, out.data());
    }
  });

  std::vector<std::uint32_t> all(inner);
  std::iota(all.begin(), all.end(), 0);
  const double read_all = ReadSeconds(options, copies, all);

  std::vector<Row> rows;
  std::vector<std::size_t> order(inner);
  std::iota(order.begin(), order.end(), 0);
  for (double sparsity : {0.0, 0.3, 0.5, 0.7}) {
    // Exactly round(sparsity * inner) neurons off, at random positions.
    std::shuffle(order.begin(), order.end(), rng);
    const auto inactive = static_cast<std::size_t>(sparsity * static_cast<double>(inner) + 0.5);
    for (std::size_t j = 0; j < inner; ++j) h[order[j]] = j < inactive ? 0.0f : normal(rng);
    const double sparse = TimePerCall(options, num_copies, [&](std::size_t i) {
      const MlpCopy& c = copies[i];
      kernels::MlpWeights up, down_t;
      if (ternary) {
        up.quant = &c.quant[0];
        down_t.quant = &c.quant[2];
      } else if (format == WeightFormat::kBF16) {
        up.bf16 = c.up_half.data();
        down_t.bf16 = c.down_t_half.data();
      } else {
        up.f16 = c.up_half.data();
        down_t.f16 = c.down_t_half.data();
      }
      kernels::SparseMlpIsa(options.isa, x.data(), h.data(), 1, hidden, inner, up, down_t,
                            out.data());
    });
    std::vector<std::uint32_t> active;
    for (std::uint32_t j = 0; j < inner; ++j) {
      if (h[j] != 0.0f) active.push_back(j);
    }
    rows.push_back({FormatLabel(format), sparsity, inner - inactive, dense, sparse, read_all,
                    ReadSeconds(options, copies, active)});
  }
  return rows;
}

double Speedup(const Row& r) { return r.dense_seconds / r.sparse_seconds; }
double Ideal(const Row& r) { return 1.0 / (1.0 - r.sparsity); }
double ReadCeiling(const Row& r) { return r.read_all_seconds / r.read_active_seconds; }

}  // namespace

int RunSparse(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    std::fprintf(stderr,
                 "usage: ghostbench sparse [--json] [--seconds S] [--quick] [--hidden N] "
                 "[--inner N] [--isa scalar|avx2|avx512]\n");
    return 2;
  }
  if (!kernels::IsaSupported(options.isa)) {
    std::fprintf(stderr, "this CPU does not support %s\n", kernels::IsaName(options.isa));
    return 2;
  }
  std::vector<Row> rows;
  for (WeightFormat format :
       {WeightFormat::kBF16, WeightFormat::kF16, WeightFormat::kTernary2Bit}) {
    for (const Row& row : RunFormat(options, format)) rows.push_back(row);
  }
  if (options.json) {
    nlohmann::json out;
    out["isa"] = kernels::IsaName(options.isa);
    out["quick"] = options.quick;
    out["hidden"] = options.hidden;
    out["inner"] = options.inner;
    out["results"] = nlohmann::json::array();
    for (const Row& r : rows) {
      out["results"].push_back({{"format", r.format},
                                {"sparsity", r.sparsity},
                                {"active_neurons", r.active},
                                {"dense_seconds", r.dense_seconds},
                                {"sparse_seconds", r.sparse_seconds},
                                {"speedup", Speedup(r)},
                                {"ideal_speedup", Ideal(r)},
                                {"fraction_of_ideal", Speedup(r) / Ideal(r)},
                                {"read_all_seconds", r.read_all_seconds},
                                {"read_active_seconds", r.read_active_seconds},
                                {"read_ceiling_speedup", ReadCeiling(r)},
                                {"fraction_of_read_ceiling", Speedup(r) / ReadCeiling(r)}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("MLP hidden %zu, inner %zu, isa %s, 1 token\n\n", options.hidden, options.inner,
              kernels::IsaName(options.isa));
  std::printf("%-18s %8s %10s %10s %8s %8s %10s %10s %10s\n", "weights", "sparsity", "dense ms",
              "sparse ms", "speedup", "ideal", "of ideal", "read ceil", "of ceil");
  for (const Row& r : rows) {
    std::printf("%-18s %8.0f%% %10.3f %10.3f %8.2f %8.2f %9.0f%% %10.2f %9.0f%%\n",
                r.format.c_str(), 100 * r.sparsity, r.dense_seconds * 1e3, r.sparse_seconds * 1e3,
                Speedup(r), Ideal(r), 100 * Speedup(r) / Ideal(r), ReadCeiling(r),
                100 * Speedup(r) / ReadCeiling(r));
  }
  std::printf(
      "\nread ceil: reading only the active neurons' rows against reading every row, the "
      "speedup skipping rows can give on this machine; of ceil: the kernel's share of it\n");
  return 0;
}

}  // namespace ghost::bench
