// ghostbench batch: aggregate decode tokens/s of the Executor (continuous batching over the
// paged KV cache) for 1, 2, 4, ... concurrent greedy requests, and the ratio to one stream.
// Runs on a model directory (default models/ghost-tiny) or, with --shape tinyllama, on random
// bf16 weights of TinyLlama-1.1B's shape written to a temporary directory (with the
// tokenizer of --model).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/clock.h"
#include "bench/curve.h"
#include "bench/subcommands.h"
#include "engine/runtime/executor.h"
#include "kernels/cpu/thread_pool.h"
#include "nlohmann/json.hpp"

namespace ghost::bench {
namespace {

struct BatchOptions {
  std::string model = "models/ghost-tiny";
  std::string shape;  // "tinyllama": random weights instead of --model
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

// Writes a LlamaForCausalLM directory with TinyLlama-1.1B's shape (2.2 GB of bf16), random
// weights and the tokenizer of `tokenizer_dir` (byte-level: ids past it decode to no text).
bool WriteRandomTinyLlama(const std::string& dir, const std::string& tokenizer_dir) {
  constexpr std::int64_t kVocab = 32000, kHidden = 2048, kInner = 5632, kLayers = 22;
  constexpr std::int64_t kHeads = 32, kKvHeads = 4, kHeadDim = 64;
  std::map<std::string, std::vector<std::int64_t>> shapes;
  shapes["model.embed_tokens.weight"] = {kVocab, kHidden};
  shapes["lm_head.weight"] = {kVocab, kHidden};
  shapes["model.norm.weight"] = {kHidden};
  for (int l = 0; l < kLayers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    shapes[p + "input_layernorm.weight"] = {kHidden};
    shapes[p + "post_attention_layernorm.weight"] = {kHidden};
    shapes[p + "self_attn.q_proj.weight"] = {kHeads * kHeadDim, kHidden};
    shapes[p + "self_attn.k_proj.weight"] = {kKvHeads * kHeadDim, kHidden};
    shapes[p + "self_attn.v_proj.weight"] = {kKvHeads * kHeadDim, kHidden};
    shapes[p + "self_attn.o_proj.weight"] = {kHidden, kHeads * kHeadDim};
    shapes[p + "mlp.gate_proj.weight"] = {kInner, kHidden};
    shapes[p + "mlp.up_proj.weight"] = {kInner, kHidden};
    shapes[p + "mlp.down_proj.weight"] = {kHidden, kInner};
  }
  nlohmann::json header = nlohmann::json::object();
  std::int64_t offset = 0;
  for (const auto& [name, shape] : shapes) {
    std::int64_t bytes = 2;
    for (std::int64_t d : shape) bytes *= d;
    header[name] = {
        {"dtype", "BF16"}, {"shape", shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  std::ofstream out(dir + "/model.safetensors", std::ios::binary);
  const std::uint64_t header_size = header_text.size();
  out.write(reinterpret_cast<const char*>(&header_size), 8);
  out.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  std::vector<std::uint16_t> buffer;
  for (const auto& [name, shape] : shapes) {
    std::int64_t count = 1;
    for (std::int64_t d : shape) count *= d;
    buffer.resize(static_cast<std::size_t>(count));
    const bool norm = shape.size() == 1;
    for (std::uint16_t& value : buffer) {
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;  // xorshift64
      // Uniform in [-0.035, 0.035) (std 0.02), truncated to bf16; norms are 1.
      const float w = norm ? 1.0f : (static_cast<float>(state >> 40) / 16777216.0f - 0.5f) * 0.07f;
      std::uint32_t bits;
      std::memcpy(&bits, &w, 4);
      value = static_cast<std::uint16_t>(bits >> 16);
    }
    out.write(reinterpret_cast<const char*>(buffer.data()), count * 2);
  }
  const nlohmann::json config = {{"architectures", {"LlamaForCausalLM"}},
                                 {"model_type", "llama"},
                                 {"vocab_size", kVocab},
                                 {"hidden_size", kHidden},
                                 {"intermediate_size", kInner},
                                 {"num_hidden_layers", kLayers},
                                 {"num_attention_heads", kHeads},
                                 {"num_key_value_heads", kKvHeads},
                                 {"head_dim", kHeadDim},
                                 {"max_position_embeddings", 2048},
                                 {"rms_norm_eps", 1e-5},
                                 {"rope_theta", 10000.0},
                                 {"torch_dtype", "bfloat16"},
                                 {"bos_token_id", 1},
                                 {"eos_token_id", 2},
                                 {"tie_word_embeddings", false}};
  std::ofstream(dir + "/config.json") << config.dump(2);
  std::error_code error;
  std::filesystem::copy_file(tokenizer_dir + "/tokenizer.json", dir + "/tokenizer.json", error);
  return out.good() && !error;
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
        "usage: ghostbench batch [--json] [--model DIR] [--shape tinyllama]\n"
        "  [--curve 1,2,4,8,16,32] [--new_tokens 64] [--prompt_tokens 16] [--repeats 3]\n");
    return 2;
  }
  std::string directory = options.model;
  std::string temp_dir;
  if (options.shape == "tinyllama") {
    char pattern[] = "/tmp/ghostbench-tinyllama-XXXXXX";
    if (mkdtemp(pattern) == nullptr || !WriteRandomTinyLlama(pattern, options.model)) {
      std::fprintf(stderr, "ghostbench batch: cannot write the random TinyLlama model\n");
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
