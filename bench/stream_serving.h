// Parts of `ghostbench stream` beyond decode speed: the memory a load takes, a burst of requests
// through the Executor with and without the streamed-model gather window, and the layer
// checksum's speed.
#ifndef GHOST_BENCH_STREAM_SERVING_H_
#define GHOST_BENCH_STREAM_SERVING_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/model/model.h"

namespace ghost::bench {

// A process's memory over Model::Load: the peak resident set (VmHWM: weights read, the layer
// file checked or written, streamed bytes freed), which counts the model files' pages mapped
// while loading (page cache the kernel may drop); the peak of anonymous memory alone (RssAnon,
// sampled every 5 ms: the memory the load really needs); and the resident set after it (VmRSS).
struct LoadMemory {
  double peak_rss_mib = 0;
  double peak_anon_mib = 0;
  double rss_after_mib = 0;
};

// Loads `model_dir` with `budget_bytes` (0: all resident) and `slots` in a fresh process (this
// executable run as `ghostbench stream --load_only ...`), so that the peak is this load's alone.
absl::StatusOr<LoadMemory> MeasureLoadMemory(const std::string& model_dir,
                                             const std::string& cache_dir,
                                             std::int64_t budget_bytes, int slots);
// The child's side: loads, prints "<VmHWM kB> <peak RssAnon kB> <VmRSS kB>" and returns the
// exit code.
int RunLoadOnly(const std::string& model_dir, const std::string& cache_dir,
                std::int64_t budget_bytes, int slots);

struct BurstResult {
  double window_ms = 0;
  int requests = 0;
  std::int64_t steps = 0;
  double sequences_per_step = 0;
  double tokens_per_s = 0;  // every request's new tokens over first arrival -> last final chunk
  double mean_ttft_ms = 0;  // enqueue -> first token, averaged over the requests
};

// `requests` greedy requests (`prompt_tokens` each, `new_tokens` new) enqueued evenly over
// `spread` into an Executor on `model` with a batch that holds them all and `window` as its
// stream_gather_window.
BurstResult RunBurst(std::shared_ptr<const Model> model, int requests, int prompt_tokens,
                     int new_tokens, absl::Duration spread, absl::Duration window);

// LayerChecksum's speed over a buffer of `bytes` (a layer), GB/s.
double ChecksumGbPerS(std::size_t bytes);

}  // namespace ghost::bench

#endif  // GHOST_BENCH_STREAM_SERVING_H_
