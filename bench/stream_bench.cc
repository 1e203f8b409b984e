// ghostbench stream: layer streaming on random TinyLlama-shape models (bf16 and ternary) written
// to disk. In one run, per format: the raw sequential read bandwidth of the model's layer file,
// cold (nothing of it in the page cache), with the streamer's own I/O (O_DIRECT reads of one
// layer each) and, for comparison, with buffered reads after POSIX_FADV_DONTNEED; then greedy
// decode tokens/s at weight budgets of 100%, 50% and 25% for batch 1 and batch 16 (a budget
// of p% keeps the embedding, final norm and head plus p% of the decoder layers' bytes: a
// compressed model's bf16 embedding and head alone are half of it), the achieved
// stream GB/s (streamed bytes over decode wall time) and its ratio to the raw read bandwidth,
// and the overlap (the share of copy time hidden behind compute). Then, per budget, the peak and
// final resident memory of a load in a fresh process; per format, the layer checksum's GB/s
// (what verifying every streamed read would cost); and, at the smallest budget, a burst of
// concurrent requests through the Executor with and without the streamed-model gather window
// (ExecutorOptions::stream_gather_window): steps, sequences per step, tokens/s, mean TTFT.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "bench/random_model.h"
#include "bench/stream_serving.h"
#include "bench/subcommands.h"
#include "engine/backend/kv_cache.h"
#include "engine/model/llama.h"
#include "engine/model/model.h"
#include "engine/runtime/executor.h"
#include "kernels/cpu/thread_pool.h"
#include "nlohmann/json.hpp"

namespace ghost::bench {
namespace {

struct StreamOptions {
  std::string tokenizer_model = "models/ghost-tiny";
  std::vector<std::string> formats = {"bf16", "ternary"};
  std::vector<int> budgets = {100, 50, 25};  // percent of the decoder layers' bytes
  std::vector<int> batches = {1, 16, 64};
  int new_tokens = 8;
  int prompt_tokens = 16;
  int slots = 2;
  int burst_requests = 16;
  int arrival_spread_ms = 10;  // the burst's requests arrive evenly over this long
  std::string dir = "/tmp";    // where the models and layer files go (the disk measured)
  bool json = false;
  // Only each budget's load and the memory of a load in a fresh process: no reads, decode or
  // bursts.
  bool memory_only = false;
};

bool ParseInts(const std::string& text, std::vector<int>& out) {
  out.clear();
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int value = 0;
    if (!absl::SimpleAtoi(part, &value) || value <= 0) return false;
    out.push_back(value);
  }
  return !out.empty();
}

bool ParseOptions(int argc, char** argv, StreamOptions& options) {
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--memory_only") {
      options.memory_only = true;
    } else if (arg == "--model" && has_value) {
      options.tokenizer_model = argv[++i];
    } else if (arg == "--formats" && has_value) {
      options.formats = absl::StrSplit(argv[++i], ',');
    } else if (arg == "--budgets" && has_value) {
      if (!ParseInts(argv[++i], options.budgets)) return false;
    } else if (arg == "--batches" && has_value) {
      if (!ParseInts(argv[++i], options.batches)) return false;
    } else if (arg == "--new_tokens" && has_value) {
      if (!absl::SimpleAtoi(argv[++i], &options.new_tokens)) return false;
    } else if (arg == "--slots" && has_value) {
      if (!absl::SimpleAtoi(argv[++i], &options.slots)) return false;
    } else if (arg == "--burst_requests" && has_value) {
      if (!absl::SimpleAtoi(argv[++i], &options.burst_requests)) return false;
    } else if (arg == "--arrival_spread_ms" && has_value) {
      if (!absl::SimpleAtoi(argv[++i], &options.arrival_spread_ms)) return false;
    } else if (arg == "--dir" && has_value) {
      options.dir = argv[++i];
    } else {
      return false;
    }
  }
  return options.new_tokens >= 1 && options.slots >= 2 && !options.formats.empty() &&
         options.burst_requests >= 1 && options.arrival_spread_ms >= 0;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Sequential reads of the whole file in chunks of `chunk` bytes, cold: GB/s, or -1 on error.
// direct: O_DIRECT (the streamer's reads); else buffered after dropping the file's cached pages.
double ColdReadGbPerS(const std::string& path, std::size_t chunk, bool direct) {
  const int fd = open(path.c_str(), O_RDONLY | (direct ? O_DIRECT : 0));
  if (fd < 0) return -1;
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  chunk = (chunk + 4095) / 4096 * 4096;
  void* buffer = std::aligned_alloc(4096, chunk);
  std::size_t total = 0;
  const double start = Now();
  for (;;) {
    const ssize_t n = pread(fd, buffer, chunk, static_cast<off_t>(total));
    if (n <= 0) break;
    total += static_cast<std::size_t>(n);
  }
  const double seconds = Now() - start;
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  std::free(buffer);
  close(fd);
  return static_cast<double>(total) / seconds / 1e9;
}

struct Point {
  int budget_percent = 0;
  int batch = 0;
  int streamed_layers = 0;
  double tokens_per_s = 0;
  double stream_gb_per_s = 0;  // streamed bytes / decode wall time
  double overlap = 1.0;
  std::int64_t streamed_bytes_per_step = 0;
};

// Prefill, then `new_tokens` decode steps of `batch` sequences; timed over the decode steps.
Point Decode(const Model& model, int batch, const StreamOptions& options) {
  Point point;
  point.batch = batch;
  const int blocks_per_sequence =
      PagedKvCache::BlocksForTokens(options.prompt_tokens + options.new_tokens);
  PagedKvCache cache(KvCacheShapeOf(model.config()), batch * blocks_per_sequence,
                     model.default_kv_dtype());
  std::vector<KvBlockTable> tables(batch);
  std::vector<std::vector<std::int32_t>> tokens(batch);
  std::unique_ptr<ModelRunner> runner = model.NewRunner();
  std::vector<float> logits;
  std::vector<ForwardSequence> step;
  for (int s = 0; s < batch; ++s) {
    for (int i = 0; i < options.prompt_tokens; ++i)
      tokens[s].push_back((s * 31 + i * 7 + 97) % 256);
    if (!cache.Resize(tables[s], options.prompt_tokens + options.new_tokens)) return point;
    step.push_back({tokens[s], 0, &tables[s], LogitRows::kLast});
  }
  if (!runner->Forward(step, cache, logits).ok()) return point;
  const LayerStreamer* streamer = model.layer_streamer();
  const StreamStats before = streamer != nullptr ? streamer->stats() : StreamStats{};
  const int vocab = model.config().vocab_size;
  const double start = Now();
  for (int t = 0; t < options.new_tokens; ++t) {
    step.clear();
    for (int s = 0; s < batch; ++s) {
      const float* row = logits.data() + static_cast<std::size_t>(s) * vocab;
      const auto next = static_cast<std::int32_t>(std::max_element(row, row + vocab) - row);
      tokens[s].push_back(next);
      step.push_back({absl::MakeConstSpan(&tokens[s].back(), 1),
                      static_cast<int>(tokens[s].size()) - 1, &tables[s], LogitRows::kLast});
    }
    if (!runner->Forward(step, cache, logits).ok()) return point;
  }
  const double seconds = Now() - start;
  point.tokens_per_s = static_cast<double>(batch) * options.new_tokens / seconds;
  if (streamer != nullptr) {
    const StreamStats after = streamer->stats();
    StreamStats delta;
    delta.bytes = after.acquired_bytes - before.acquired_bytes;
    delta.copy_seconds = after.copy_seconds - before.copy_seconds;
    delta.wait_seconds = after.wait_seconds - before.wait_seconds;
    point.stream_gb_per_s = static_cast<double>(delta.bytes) / seconds / 1e9;
    point.overlap = StreamOverlapRatio(delta);
    point.streamed_bytes_per_step = static_cast<std::int64_t>(streamer->bytes_per_step());
  }
  return point;
}

struct BudgetMemory {
  int budget_percent = 0;
  LoadMemory memory;
};

struct FormatResult {
  std::string format;
  std::int64_t weight_bytes = 0;
  double direct_read_gb_per_s = 0;
  double buffered_read_gb_per_s = 0;
  double checksum_gb_per_s = 0;
  std::vector<Point> points;
  std::vector<BudgetMemory> load_memory;
  int burst_budget_percent = 0;
  std::vector<BurstResult> bursts;  // gather window 0, then the default
};

}  // namespace

int RunStream(int argc, char** argv) {
  // The child of MeasureLoadMemory: --load_only DIR CACHE_DIR BUDGET_BYTES SLOTS.
  if (argc == 5 && std::string(argv[0]) == "--load_only") {
    std::int64_t budget = 0;
    int slots = 0;
    if (!absl::SimpleAtoi(argv[3], &budget) || !absl::SimpleAtoi(argv[4], &slots)) return 2;
    return RunLoadOnly(argv[1], argv[2], budget, slots);
  }
  StreamOptions options;
  if (!ParseOptions(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: ghostbench stream [--json] [--formats bf16,ternary] [--budgets 100,50,25]"
                 "\n  [--batches 1,16,64] [--new_tokens 8] [--slots 2] [--burst_requests 16]"
                 "\n  [--arrival_spread_ms 10] [--dir /tmp] [--model DIR] [--memory_only]\n");
    return 2;
  }
  std::vector<FormatResult> results;
  for (const std::string& format : options.formats) {
    const std::string base = options.dir + "/ghostbench-stream-" + std::to_string(getpid());
    const std::string dir = base + "-" + format;
    const std::string cache_dir = base + "-cache-" + format;
    std::filesystem::create_directories(dir);
    if (absl::Status s = WriteRandomTinyLlama(dir, options.tokenizer_model, format); !s.ok()) {
      std::fprintf(stderr, "ghostbench stream: %s\n", s.ToString().c_str());
      return 1;
    }
    FormatResult result;
    result.format = format;
    std::int64_t full = 0, layers = 0;
    const int smallest_budget = *std::min_element(options.budgets.begin(), options.budgets.end());
    for (int percent : options.budgets) {
      ModelOptions model_options;
      model_options.layer_cache_dir = cache_dir;
      model_options.stream_slots = options.slots;
      if (percent < 100) {
        if (full == 0) {
          std::fprintf(stderr, "ghostbench stream: list budget 100 first\n");
          return 2;
        }
        model_options.weight_budget_bytes = full - layers + layers * percent / 100;
      }
      absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir, model_options);
      if (!model.ok()) {
        std::fprintf(stderr, "ghostbench stream: %s\n", model.status().ToString().c_str());
        std::filesystem::remove_all(dir);
        std::filesystem::remove_all(cache_dir);
        return 1;
      }
      if (percent == 100) {
        full = (*model)->summary().resident_weight_bytes;
        for (const LlamaLayerWeights& layer :
             dynamic_cast<const LlamaModel&>(**model).weights().layers) {
          layers += static_cast<std::int64_t>(layer.unit->bytes());
        }
        result.weight_bytes = full;
      }
      if (!options.memory_only && (*model)->layer_streamer() != nullptr &&
          result.direct_read_gb_per_s == 0) {
        // The layer file exists now: its raw cold read bandwidth, in layer-sized reads.
        const std::string file = std::filesystem::directory_iterator(cache_dir)->path().string();
        const std::size_t layer = (*model)->layer_streamer()->bytes_per_step() /
                                  (*model)->layer_streamer()->layer_count();
        result.buffered_read_gb_per_s = ColdReadGbPerS(file, layer, /*direct=*/false);
        result.direct_read_gb_per_s = ColdReadGbPerS(file, layer, /*direct=*/true);
        result.checksum_gb_per_s = ChecksumGbPerS(layer);
      }
      for (int batch : options.batches) {
        if (options.memory_only) break;
        Point point = Decode(**model, batch, options);
        point.budget_percent = percent;
        point.streamed_layers = (*model)->summary().streamed_layers;
        result.points.push_back(point);
      }
      if (!options.memory_only && percent == smallest_budget &&
          (*model)->layer_streamer() != nullptr) {
        result.burst_budget_percent = percent;
        for (absl::Duration window :
             {absl::ZeroDuration(), ExecutorOptions().stream_gather_window}) {
          result.bursts.push_back(RunBurst(*model, options.burst_requests, options.prompt_tokens,
                                           options.new_tokens,
                                           absl::Milliseconds(options.arrival_spread_ms), window));
        }
      }
      model->reset();  // before the load process: one copy of the weights in memory at a time
      absl::StatusOr<LoadMemory> memory =
          MeasureLoadMemory(dir, cache_dir, model_options.weight_budget_bytes, options.slots);
      if (memory.ok()) result.load_memory.push_back({percent, *memory});
    }
    std::filesystem::remove_all(dir);
    std::filesystem::remove_all(cache_dir);
    results.push_back(result);
  }

  const int threads = kernels::ThreadPool::Default().num_threads();
  if (options.json) {
    nlohmann::json out = {{"model", "random TinyLlama-1.1B shape"},
                          {"threads", threads},
                          {"slots", options.slots},
                          {"new_tokens", options.new_tokens},
                          {"formats", nlohmann::json::array()}};
    for (const FormatResult& r : results) {
      nlohmann::json f = {{"format", r.format},
                          {"weight_bytes", r.weight_bytes},
                          {"raw_direct_read_gb_per_s", r.direct_read_gb_per_s},
                          {"raw_buffered_read_gb_per_s", r.buffered_read_gb_per_s},
                          {"checksum_gb_per_s", r.checksum_gb_per_s},
                          {"points", nlohmann::json::array()},
                          {"load_memory", nlohmann::json::array()},
                          {"burst_budget_percent", r.burst_budget_percent},
                          {"bursts", nlohmann::json::array()}};
      for (const BudgetMemory& m : r.load_memory) {
        f["load_memory"].push_back({{"budget_percent", m.budget_percent},
                                    {"peak_rss_mib", m.memory.peak_rss_mib},
                                    {"peak_anon_mib", m.memory.peak_anon_mib},
                                    {"rss_after_load_mib", m.memory.rss_after_mib}});
      }
      for (const BurstResult& b : r.bursts) {
        f["bursts"].push_back({{"gather_window_ms", b.window_ms},
                               {"requests", b.requests},
                               {"steps", b.steps},
                               {"sequences_per_step", b.sequences_per_step},
                               {"tokens_per_s", b.tokens_per_s},
                               {"mean_ttft_ms", b.mean_ttft_ms}});
      }
      for (const Point& p : r.points) {
        f["points"].push_back(
            {{"budget_percent", p.budget_percent},
             {"batch", p.batch},
             {"streamed_layers", p.streamed_layers},
             {"tokens_per_s", p.tokens_per_s},
             {"stream_gb_per_s", p.stream_gb_per_s},
             {"ratio_to_raw_read",
              r.direct_read_gb_per_s > 0 ? p.stream_gb_per_s / r.direct_read_gb_per_s : 0},
             {"overlap", p.overlap}});
      }
      out["formats"].push_back(f);
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("random TinyLlama-1.1B shape, %d threads, %d slots, %d decode steps\n", threads,
              options.slots, options.new_tokens);
  for (const FormatResult& r : results) {
    std::printf(
        "%s: %.2f GB resident; layer file cold read %.2f GB/s O_DIRECT, %.2f GB/s "
        "buffered\n",
        r.format.c_str(), r.weight_bytes / 1e9, r.direct_read_gb_per_s, r.buffered_read_gb_per_s);
    std::printf("%8s %6s %9s %10s %10s %8s %8s\n", "budget", "batch", "streamed", "tokens/s",
                "GB/s", "x read", "overlap");
    for (const Point& p : r.points) {
      std::printf("%7d%% %6d %9d %10.2f %10.3f %8.2f %8.2f\n", p.budget_percent, p.batch,
                  p.streamed_layers, p.tokens_per_s, p.stream_gb_per_s,
                  r.direct_read_gb_per_s > 0 ? p.stream_gb_per_s / r.direct_read_gb_per_s : 0,
                  p.overlap);
    }
    std::printf("layer checksum (CRC-32) %.2f GB/s: %.2f x the O_DIRECT read\n",
                r.checksum_gb_per_s,
                r.direct_read_gb_per_s > 0 ? r.checksum_gb_per_s / r.direct_read_gb_per_s : 0);
    for (const BudgetMemory& m : r.load_memory) {
      std::printf(
          "load at budget %d%%: peak RSS %.0f MiB (anonymous %.0f MiB), RSS after load %.0f MiB\n",
          m.budget_percent, m.memory.peak_rss_mib, m.memory.peak_anon_mib, m.memory.rss_after_mib);
    }
    for (const BurstResult& b : r.bursts) {
      std::printf(
          "burst at budget %d%%, %d requests over %d ms, gather window %.0f ms: %lld steps, "
          "%.1f sequences/step, %.2f tokens/s, mean TTFT %.0f ms\n",
          r.burst_budget_percent, b.requests, options.arrival_spread_ms, b.window_ms,
          static_cast<long long>(b.steps), b.sequences_per_step, b.tokens_per_s, b.mean_ttft_ms);
    }
  }
  return 0;
}

}  // namespace ghost::bench
