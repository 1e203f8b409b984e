// ghostbench quality: whole-model compression of a model directory (default ghost-tiny) with
// every scheme, with and without dead-neuron removal and MLP gates. Calibrates on the first
// half of the model's validation-sample.txt and measures bits per byte on the second half
// (held out), or on a text file of the user's (--text), before and after; also the
// removed-neuron fraction, the measured activation sparsity and the compressor's throughput.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/subcommands.h"
#include "engine/common/file.h"
#include "engine/compressor/model_compressor.h"
#include "engine/model/model.h"
#include "kernels/cpu/thread_pool.h"
#include "nlohmann/json.hpp"

namespace ghost::bench {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string scheme;
  int block_size;
  bool remove_dead_neurons;
  float target_sparsity;
};

struct Result {
  Case c;
  compress::CompressReport report;
  double seconds = 0;
  double weights_per_second = 0;
};

std::vector<Case> Cases(bool quick) {
  if (quick) return {{"ternary", 64, true, 0.5f}};
  std::vector<Case> cases;
  for (const std::string& scheme : compress::CompressSchemes()) {
    cases.push_back({scheme, 64, false, 0.0f});
  }
  cases.push_back({"ternary", 16, false, 0.0f});
  cases.push_back({"ternary", 256, false, 0.0f});
  cases.push_back({"ternary", 64, true, 0.0f});
  cases.push_back({"ternary", 64, false, 0.3f});
  cases.push_back({"ternary", 64, false, 0.5f});
  cases.push_back({"ternary", 64, true, 0.5f});
  cases.push_back({"codebook4", 64, true, 0.5f});
  return cases;
}

std::string Label(const Case& c) {
  std::string label = absl::StrCat(c.scheme, " B=", c.block_size);
  if (c.remove_dead_neurons) absl::StrAppend(&label, " +dead");
  if (c.target_sparsity > 0) absl::StrAppend(&label, " +gate", int(c.target_sparsity * 100 + 0.5));
  return label;
}

}  // namespace

int RunQuality(int argc, char** argv) {
  std::string model = "models/ghost-tiny";
  std::string text_path;  // empty: the second half of validation-sample.txt
  bool json = false, quick = false;
  float dead_tolerance = 0.05f;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
      model = argv[++i];
    } else if (std::strcmp(argv[i], "--text") == 0 && i + 1 < argc) {
      text_path = argv[++i];
    } else if (std::strcmp(argv[i], "--dead_tolerance") == 0 && i + 1 < argc) {
      dead_tolerance = std::stof(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: ghostbench quality [--json] [--quick] [--model DIR] [--text FILE] "
                   "[--dead_tolerance F]\n");
      return 2;
    }
  }
  absl::StatusOr<std::string> sample = ReadFileToString(model + "/validation-sample.txt");
  if (!sample.ok()) {
    std::fprintf(stderr, "%s\n", sample.status().ToString().c_str());
    return 1;
  }
  std::string text = *sample;
  if (quick) text = text.substr(0, 2048);
  const std::string calibration = text.substr(0, text.size() / 2);
  std::string evaluation = text.substr(text.size() / 2);
  if (!text_path.empty()) {
    absl::StatusOr<std::string> user_text = ReadFileToString(text_path);
    if (!user_text.ok()) {
      std::fprintf(stderr, "%s\n", user_text.status().ToString().c_str());
      return 1;
    }
    evaluation = quick ? user_text->substr(0, 1024) : *user_text;
  }

  // Throughput counts the source's parameters (what the compressor reads).
  absl::StatusOr<std::shared_ptr<const Model>> source = Model::Load(model);
  if (!source.ok()) {
    std::fprintf(stderr, "%s\n", source.status().ToString().c_str());
    return 1;
  }
  const double weights = static_cast<double>((*source)->summary().parameters);
  source->reset();

  const fs::path out_root =
      fs::temp_directory_path() / absl::StrCat("ghostbench-quality-", getpid());
  fs::create_directories(out_root);
  std::vector<Result> results;
  const std::atomic<bool> no_cancel{false};
  for (const Case& c : Cases(quick)) {
    compress::CompressJobSpec spec;
    spec.source_dir = model;
    spec.output_dir = (out_root / absl::StrCat("case", results.size())).string();
    spec.scheme = c.scheme;
    spec.block_size = c.block_size;
    spec.remove_dead_neurons = c.remove_dead_neurons;
    spec.dead_neuron_tolerance = dead_tolerance;
    spec.target_sparsity = c.target_sparsity;
    spec.calibration_text = calibration;
    spec.evaluation_text = evaluation;
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<compress::CompressReport> report =
        compress::CompressModelDirectory(spec, nullptr, no_cancel);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!report.ok()) {
      std::fprintf(stderr, "%s: %s\n", Label(c).c_str(), report.status().ToString().c_str());
      fs::remove_all(out_root);
      return 1;
    }
    results.push_back({c, *report, seconds, weights / seconds});
    fs::remove_all(spec.output_dir);
  }
  fs::remove_all(out_root);

  const int threads = static_cast<int>(kernels::ThreadPool::Default().num_threads());
  if (json) {
    nlohmann::json out = {
        {"model", model},
        {"evaluation_text", text_path.empty() ? "validation-sample.txt (second half)" : text_path},
        {"threads", threads},
        {"calibration_bytes", calibration.size()},
        {"evaluation_bytes", evaluation.size()}};
    for (const Result& r : results) {
      out["cases"].push_back({{"case", Label(r.c)},
                              {"scheme", r.c.scheme},
                              {"block_size", r.c.block_size},
                              {"remove_dead_neurons", r.c.remove_dead_neurons},
                              {"target_sparsity", r.c.target_sparsity},
                              {"bits_per_weight", r.report.bits_per_weight},
                              {"compression_ratio", r.report.compression_ratio},
                              {"bits_per_byte_before", r.report.bits_per_byte_before},
                              {"bits_per_byte_after", r.report.bits_per_byte_after},
                              {"removed_neuron_fraction", r.report.removed_neuron_fraction},
                              {"activation_sparsity", r.report.activation_sparsity},
                              {"seconds", r.seconds},
                              {"weights_per_second", r.weights_per_second}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("model %s, %d threads; calibrate on %zu bytes, evaluate on %zu held-out bytes%s%s\n",
              model.c_str(), threads, calibration.size(), evaluation.size(),
              text_path.empty() ? "" : " of ", text_path.c_str());
  std::printf("%-28s %8s %7s %10s %10s %8s %9s %8s %12s\n", "case", "bits/w", "ratio", "bpb before",
              "bpb after", "removed", "sparsity", "seconds", "weights/s");
  for (const Result& r : results) {
    std::printf("%-28s %8.3f %7.2f %10.4f %10.4f %8.3f %9.3f %8.1f %12.3g\n", Label(r.c).c_str(),
                r.report.bits_per_weight, r.report.compression_ratio, r.report.bits_per_byte_before,
                r.report.bits_per_byte_after, r.report.removed_neuron_fraction,
                r.report.activation_sparsity, r.seconds, r.weights_per_second);
  }
  return 0;
}

}  // namespace ghost::bench
