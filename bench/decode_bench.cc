// ghostbench batch: aggregate decode tokens/s of the Executor (continuous batching over the
// paged KV cache) for 1, 2, 4, ... concurrent greedy requests, and the ratio to one stream.
// Runs on a model directory (default models/ghost-tiny) or, with --shape tinyllama, on random
// weights of TinyLlama-1.1B's shape (bf16 or, with --format, compressed) written to a temporary
// directory (with the tokenizer of --model).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/clock.h"
#include "bench/curve.h"
#include "bench/random_model.h"
#include "bench/subcommands.h"
#include "engine/runtime/executor.h"
#include "kernels/cpu/thread_pool.h"
#include "nlohmann/json.hpp"

namespace ghost::bench {
namespace {

struct BatchOptions {
  std::string model = "models/ghost-tiny";
  std::string shape;            // "tinyllama": random weights instead of --model
  std::string format = "bf16";  // of the random weights: random_model.h
  std::vector<int> curve = {1, 2, 4, 8, 16, 32};
  int new_tokens = 64;
  int prompt_tokens = 16;
  int repeats = 3;  // each level runs this often; the fastest run counts (shared machines)
  bool json = false;
};

bool ParseOptions(int argc, char** argv, BatchOptions& options) {
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--model" && has_value) {
      options.model = argv[++i];
    } else if (arg == "--shape" && has_value) {
      options.shape = argv[++i];
      if (options.shape != "tinyllama") return false;
    } else if (arg == "--format" && has_value) {
      options.format = argv[++i];
    } else if (arg == "--curve" && has_value) {
      if (!ParseCurve(argv[++i], options.curve)) return false;
    } else if (arg == "--new_tokens" && has_value) {
      if (!absl::SimpleAtoi(argv[++i], &options.new_tokens)) return false;
    } else if (arg == "--prompt_tokens" && has_value) {
      if (!absl::SimpleAtoi(argv[++i], &options.prompt_tokens)) return false;
    } else if (arg == "--repeats" && has_value) {
      if (!absl::SimpleAtoi(argv[++i], &options.repeats)) return false;
    } else {
      return false;
    }
  }
  return !options.curve.empty() && options.new_tokens >= 1 && options.prompt_tokens >= 1 &&
         options.repeats >= 1;
}

struct Level {
  int streams = 0;
  double wall_s = 0;
  std::int64_t tokens = 0;
  double tokens_per_s = 0;
  int max_running = 0;
};

// Enqueues `streams` greedy requests at once and waits for all of them.
Level RunLevel(Executor& executor, const BatchOptions& options, int streams) {
  absl::BlockingCounter done(streams);
  std::atomic<std::int64_t> tokens{0};
  std::atomic<int> max_running{0};
  const absl::Time start = absl::Now();
  for (int s = 0; s < streams; ++s) {
    GenerationRequest request;
    for (int i = 0; i < options.prompt_tokens; ++i) {
      request.prompt_tokens.push_back((s * 31 + i * 7 + 'a') % 256);  // distinct prompts
    }
    request.sampling.temperature = 0.0f;
    request.stopping.max_new_tokens = options.new_tokens;
    request.stopping.ignore_eos = true;
    const auto enqueued = executor.Enqueue(std::move(request), [&](GenerationChunk chunk) {
      tokens += static_cast<std::int64_t>(chunk.token_ids.size());
      const int running = executor.num_running();
      if (running > max_running.load()) max_running = running;  // only the scheduler writes
      if (chunk.is_final()) done.DecrementCount();
    });
    if (!enqueued.ok()) {
      std::fprintf(stderr, "ghostbench batch: %s\n", enqueued.status().ToString().c_str());
      done.DecrementCount();
    }
  }
  done.Wait();
  Level level;
  level.streams = streams;
  level.wall_s = absl::ToDoubleSeconds(absl::Now() - start);
  level.tokens = tokens.load();
  level.tokens_per_s = static_cast<double>(level.tokens) / level.wall_s;
  level.max_running = max_running.load();
  return level;
}

}  // namespace

int RunBatch(int argc, char** argv) {
  BatchOptions options;
  if (!ParseOptions(argc, argv, options)) {
    std::fprintf(
        stderr,
        "usage: ghostbench batch [--json] [--model DIR] [--shape tinyllama [--format F]]\n"
        "  [--curve 1,2,4,8,16,32] [--new_tokens 64] [--prompt_tokens 16] [--repeats 3]\n");
    return 2;
  }
  std::string directory = options.model;
  std::string temp_dir;
  if (options.shape == "tinyllama") {
    char pattern[] = "/tmp/ghostbench-tinyllama-XXXXXX";
    if (mkdtemp(pattern) == nullptr) return 1;
    if (absl::Status s = WriteRandomTinyLlama(pattern, options.model, options.format); !s.ok()) {
      std::fprintf(stderr, "ghostbench batch: %s\n", s.ToString().c_str());
      std::filesystem::remove_all(pattern);
      return 1;
    }
    directory = temp_dir = pattern;
  }
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(directory);
  if (!temp_dir.empty()) std::filesystem::remove_all(temp_dir);  // the mapping stays valid
  if (!model.ok()) {
    std::fprintf(stderr, "ghostbench batch: %s\n", model.status().ToString().c_str());
    return 1;
  }
  ExecutorOptions executor_options;
  executor_options.max_queued_requests = 1024;
  for (int streams : options.curve) {
    executor_options.max_batch_size = std::max(executor_options.max_batch_size, streams);
  }
  executor_options.max_step_tokens =
      std::max(executor_options.max_step_tokens, executor_options.max_batch_size);
  absl::StatusOr<std::unique_ptr<Executor>> executor = Executor::Create(*model, executor_options);
  if (!executor.ok()) {
    std::fprintf(stderr, "ghostbench batch: %s\n", executor.status().ToString().c_str());
    return 1;
  }
  const ModelSummary& summary = (*model)->summary();
  // Warm-up: page the weights in and size the scratch buffers.
  BatchOptions warm_up = options;
  warm_up.new_tokens = 4;
  RunLevel(**executor, warm_up, 2);

  std::vector<Level> levels;
  for (int streams : options.curve) {
    Level best = RunLevel(**executor, options, streams);
    for (int r = 1; r < options.repeats; ++r) {
      Level level = RunLevel(**executor, options, streams);
      if (level.tokens_per_s > best.tokens_per_s) best = level;
    }
    levels.push_back(best);
  }
  const double single = levels.front().streams == 1 ? levels.front().tokens_per_s : 0.0;
  const int threads = kernels::ThreadPool::Default().num_threads();
  if (options.json) {
    nlohmann::json out = {{"model", options.shape.empty() ? directory : "random " + options.shape},
                          {"parameters", summary.parameters},
                          {"dtype", summary.dtype},
                          {"threads", threads},
                          {"new_tokens", options.new_tokens},
                          {"prompt_tokens", options.prompt_tokens},
                          {"repeats", options.repeats},
                          {"levels", nlohmann::json::array()}};
    for (const Level& level : levels) {
      out["levels"].push_back({{"streams", level.streams},
                               {"wall_s", level.wall_s},
                               {"tokens", level.tokens},
                               {"tokens_per_s", level.tokens_per_s},
                               {"ratio_to_1_stream", single > 0 ? level.tokens_per_s / single : 0},
                               {"max_running", level.max_running}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf(
      "model %s (%lld parameters, %s), %d threads, prompts of %d, %d new tokens each, "
      "best of %d\n",
      options.shape.empty() ? directory.c_str() : "random TinyLlama-1.1B shape",
      static_cast<long long>(summary.parameters), summary.dtype.c_str(), threads,
      options.prompt_tokens, options.new_tokens, options.repeats);
  std::printf("%8s %10s %8s %12s %10s %12s\n", "streams", "wall s", "tokens", "tokens/s",
              "x 1 stream", "max running");
  for (const Level& level : levels) {
    std::printf("%8d %10.3f %8lld %12.1f %10.2f %12d\n", level.streams, level.wall_s,
                static_cast<long long>(level.tokens), level.tokens_per_s,
                single > 0 ? level.tokens_per_s / single : 0.0, level.max_running);
  }
  return 0;
}

}  // namespace ghost::bench
