// ghostbench compress: fidelity and size of every quantization scheme and block size, on
// synthetic Llama-3-8B MLP-shaped matrices (Gaussian and Student-t, seeded) and, when the
// file exists, on ghost-tiny's MLP and attention matrices; plus compressor throughput.
// The published reference: ternary B=16 with fp16 scales (3.0 bits/weight) reaches cosine
// 0.915 on a Llama-3-8B MLP matrix.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/subcommands.h"
#include "engine/backend/weight_loader.h"
#include "engine/checkpoint/safetensors.h"
#include "engine/compress/metrics.h"
#include "engine/compress/quantize.h"
#include "kernels/cpu/thread_pool.h"
#include "nlohmann/json.hpp"

namespace ghost::bench {
namespace {

using Clock = std::chrono::steady_clock;
using compress::QuantizeOptions;
using compress::ScaleScheme;
using compress::TernarySolver;

constexpr char kDefaultModel[] = "models/ghost-tiny/model.safetensors";
constexpr std::size_t kWeightsPerCodebook = 4096;

struct Options {
  bool json = false;
  bool quick = false;  // Small synthetic matrices only: a smoke run for tests.
  std::string model;   // Empty: kDefaultModel when it exists and not --quick.
};

struct Scheme {
  const char* name;
  WeightFormat format;
  TernarySolver solver;
  ScaleScheme scale_scheme;
  int sub_scale_bits;
};

constexpr Scheme kSchemes[] = {
    {"ternary-exact", WeightFormat::kTernary2Bit, TernarySolver::kExact, ScaleScheme::kF16PerBlock,
     4},
    {"ternary-iterative", WeightFormat::kTernary2Bit, TernarySolver::kIterative,
     ScaleScheme::kF16PerBlock, 4},
    {"ternary-two-level-4", WeightFormat::kTernary2Bit, TernarySolver::kExact,
     ScaleScheme::kTwoLevel, 4},
    {"ternary-two-level-6", WeightFormat::kTernary2Bit, TernarySolver::kExact,
     ScaleScheme::kTwoLevel, 6},
    {"ternary-base3-two-level-4", WeightFormat::kTernaryBase3, TernarySolver::kExact,
     ScaleScheme::kTwoLevel, 4},
    {"codebook", WeightFormat::kCodebook2Bit, TernarySolver::kExact, ScaleScheme::kF16PerBlock, 4},
    {"codebook-two-level-4", WeightFormat::kCodebook2Bit, TernarySolver::kExact,
     ScaleScheme::kTwoLevel, 4},
};

// One or more matrices measured together (a model's MLP matrices, say).
struct MatrixSet {
  std::string name;
  struct Matrix {
    std::size_t rows;
    std::size_t cols;
    std::vector<float> weights;
  };
  std::vector<Matrix> matrices;
};

struct CaseResult {
  std::string matrix;
  std::size_t matrices;
  std::size_t weights;
  const Scheme* scheme;
  std::size_t block_size;
  compress::Quality quality;
  double bits_per_weight;
  double seconds;  // Quantize() only.
};

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      options->json = true;
    } else if (arg == "--quick") {
      options->quick = true;
    } else if (arg == "--model" && i + 1 < argc) {
      options->model = argv[++i];
    } else {
      return false;
    }
  }
  return true;
}

// Seeded, so every run measures the same matrices.
MatrixSet Synthetic(const char* name, std::size_t rows, std::size_t cols, bool student_t) {
  std::mt19937_64 rng(student_t ? 2 : 1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::student_t_distribution<float> t5(5.0f);
  std::vector<float> weights(rows * cols);
  for (float& w : weights) w = 0.02f * (student_t ? t5(rng) : normal(rng));
  return {name, {{rows, cols, std::move(weights)}}};
}

bool IsMatrixOf(const TensorView& tensor, const char* part) {
  const bool suffix = tensor.name.size() > 12 &&
                      tensor.name.compare(tensor.name.size() - 12, 12, "_proj.weight") == 0;
  const bool float_dtype =
      tensor.dtype == Dtype::kBF16 || tensor.dtype == Dtype::kF16 || tensor.dtype == Dtype::kF32;
  return suffix && float_dtype && tensor.shape.size() == 2 &&
         tensor.name.find(part) != std::string::npos;
}

// The model's MLP and attention projections as two sets, named after the model's directory.
absl::StatusOr<std::vector<MatrixSet>> ModelSets(const std::string& path) {
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(path);
  if (!file.ok()) return file.status();
  const std::string model = std::filesystem::path(path).parent_path().filename().string();
  std::vector<MatrixSet> sets = {{model + "-mlp", {}}, {model + "-attention", {}}};
  for (const std::string& name : (*file)->tensor_names()) {
    const TensorView& tensor = *(*file)->Find(name);
    for (std::size_t s = 0; s < sets.size(); ++s) {
      if (!IsMatrixOf(tensor, s == 0 ? ".mlp." : ".self_attn.")) continue;
      sets[s].matrices.push_back({static_cast<std::size_t>(tensor.shape[0]),
                                  static_cast<std::size_t>(tensor.shape[1]), TensorToF32(tensor)});
    }
  }
  return sets;
}

// Quantizes every matrix of the set with one scheme and block size; false on an error,
// which is printed.
bool RunCase(const MatrixSet& set, const Scheme& scheme, std::size_t block_size,
             CaseResult* result) {
  QuantizeOptions options;
  options.format = scheme.format;
  options.block_size = block_size;
  options.solver = scheme.solver;
  options.scale_scheme = scheme.scale_scheme;
  options.sub_scale_bits = scheme.sub_scale_bits;
  options.parallel = true;
  compress::ErrorSums sums;
  std::size_t bytes = 0;
  double seconds = 0.0;
  for (const MatrixSet::Matrix& matrix : set.matrices) {
    // One codebook per row costs 64 / cols bits per weight: 0.004 at 14336 columns, but
    // 0.25 at ghost-tiny's 256. Sharing one among >= 4096 weights keeps it under 0.016.
    options.codebook_group_rows = (kWeightsPerCodebook + matrix.cols - 1) / matrix.cols;
    const Clock::time_point start = Clock::now();
    absl::StatusOr<compress::QuantizedMatrix> q =
        compress::Quantize(matrix.weights.data(), matrix.rows, matrix.cols, options);
    seconds += std::chrono::duration<double>(Clock::now() - start).count();
    if (!q.ok()) {
      std::fprintf(stderr, "%s %s B=%zu: %s\n", set.name.c_str(), scheme.name, block_size,
                   q.status().ToString().c_str());
      return false;
    }
    sums += compress::CompareWithOriginal(matrix.weights.data(), *q);
    bytes += q->StorageBytes();
  }
  *result = {set.name,
             set.matrices.size(),
             sums.count,
             &scheme,
             block_size,
             compress::QualityOf(sums),
             8.0 * static_cast<double>(bytes) / static_cast<double>(sums.count),
             seconds};
  return true;
}

std::string ShapeOf(const MatrixSet& set) {
  if (set.matrices.size() != 1) return std::to_string(set.matrices.size()) + " matrices";
  return std::to_string(set.matrices[0].rows) + "x" + std::to_string(set.matrices[0].cols);
}

void PrintTable(const std::vector<MatrixSet>& sets, const std::vector<CaseResult>& results,
                int threads) {
  std::printf("compressor threads: %d\n", threads);
  for (const MatrixSet& set : sets) std::printf("%s: %s\n", set.name.c_str(), ShapeOf(set).c_str());
  std::printf("\n%-22s %-26s %4s %8s %10s %8s %6s %7s %10s\n", "matrix", "scheme", "B", "cosine",
              "mse", "rel.err", "bits/w", "vs bf16", "Mweights/s");
  for (const CaseResult& r : results) {
    std::printf("%-22s %-26s %4zu %8.4f %10.3e %8.4f %6.3f %6.2fx %10.2f\n", r.matrix.c_str(),
                r.scheme->name, r.block_size, r.quality.cosine, r.quality.mse,
                r.quality.relative_error, r.bits_per_weight, 16.0 / r.bits_per_weight,
                static_cast<double>(r.weights) / r.seconds / 1e6);
  }
  std::printf(
      "\nreference: ternary B=16, fp16 scales, 3.0 bits/weight: cosine 0.915 "
      "(Llama-3-8B MLP matrix)\n");
}

void PrintJson(const Options& options, const std::vector<MatrixSet>& sets,
               const std::vector<CaseResult>& results, int threads) {
  nlohmann::json out;
  out["quick"] = options.quick;
  out["threads"] = threads;
  out["matrices"] = nlohmann::json::array();
  for (const MatrixSet& set : sets) {
    nlohmann::json shapes = nlohmann::json::array();
    for (const MatrixSet::Matrix& m : set.matrices) shapes.push_back({m.rows, m.cols});
    out["matrices"].push_back({{"name", set.name}, {"shapes", shapes}});
  }
  out["results"] = nlohmann::json::array();
  for (const CaseResult& r : results) {
    out["results"].push_back({{"matrix", r.matrix},
                              {"matrices", r.matrices},
                              {"weights", r.weights},
                              {"scheme", r.scheme->name},
                              {"format", WeightFormatName(r.scheme->format)},
                              {"scales", compress::ScaleSchemeName(r.scheme->scale_scheme)},
                              {"block_size", r.block_size},
                              {"cosine", r.quality.cosine},
                              {"mse", r.quality.mse},
                              {"relative_error", r.quality.relative_error},
                              {"bits_per_weight", r.bits_per_weight},
                              {"compression_vs_bf16", 16.0 / r.bits_per_weight},
                              {"seconds", r.seconds},
                              {"weights_per_s", static_cast<double>(r.weights) / r.seconds}});
  }
  std::printf("%s\n", out.dump(2).c_str());
}

}  // namespace

int RunCompress(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    std::fprintf(stderr, "usage: ghostbench compress [--json] [--quick] [--model PATH]\n");
    return 2;
  }
  // Llama-3-8B's MLP shape; quick runs use a small one whose cols are not a multiple of 256.
  const std::size_t rows = options.quick ? 64 : 4096;
  const std::size_t cols = options.quick ? 1000 : 14336;
  std::vector<MatrixSet> sets;
  sets.push_back(Synthetic("gaussian", rows, cols, /*student_t=*/false));
  sets.push_back(Synthetic("student-t5", rows, cols, /*student_t=*/true));
  std::string model = options.model;
  if (model.empty() && !options.quick && std::filesystem::exists(kDefaultModel)) {
    model = kDefaultModel;
  }
  if (!model.empty()) {
    absl::StatusOr<std::vector<MatrixSet>> model_sets = ModelSets(model);
    if (!model_sets.ok()) {
      std::fprintf(stderr, "%s\n", model_sets.status().ToString().c_str());
      return 1;
    }
    for (MatrixSet& set : *model_sets) {
      if (!set.matrices.empty()) sets.push_back(std::move(set));
    }
  }

  kernels::ThreadPool& pool = kernels::ThreadPool::Default();
  std::vector<CaseResult> results;
  for (const MatrixSet& set : sets) {
    for (const Scheme& scheme : kSchemes) {
      for (std::size_t block_size : kBlockSizes) {
        CaseResult result;
        if (!RunCase(set, scheme, block_size, &result)) return 1;
        results.push_back(result);
      }
    }
  }
  if (options.json) {
    PrintJson(options, sets, results, pool.num_threads());
  } else {
    PrintTable(sets, results, pool.num_threads());
  }
  return 0;
}

}  // namespace ghost::bench
