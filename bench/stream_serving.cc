#include "bench/stream_serving.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "engine/backend/cpu/layer_file.h"
#include "engine/runtime/executor.h"

extern char** environ;

namespace ghost::bench {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A "<key>:   <n> kB" line of /proc/self/status, in kB; -1 when absent.
long StatusKb(const std::string& key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(key + ":", 0) == 0)
      return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
  }
  return -1;
}

}  // namespace

int RunLoadOnly(const std::string& model_dir, const std::string& cache_dir,
                std::int64_t budget_bytes, int slots) {
  std::atomic<bool> loaded{false};
  std::atomic<long> peak_anon_kb{0};
  std::thread sampler([&] {
    while (!loaded.load()) {
      peak_anon_kb.store(std::max(peak_anon_kb.load(), StatusKb("RssAnon")));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  ModelOptions options;
  options.layer_cache_dir = cache_dir;
  options.weight_budget_bytes = budget_bytes;
  options.stream_slots = slots;
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(model_dir, options);
  loaded.store(true);
  sampler.join();
  if (!model.ok()) {
    std::fprintf(stderr, "ghostbench stream --load_only: %s\n", model.status().ToString().c_str());
    return 1;
  }
  const long anon_kb = std::max(peak_anon_kb.load(), StatusKb("RssAnon"));
  std::printf("%ld %ld %ld\n", StatusKb("VmHWM"), anon_kb, StatusKb("VmRSS"));
  return 0;
}

absl::StatusOr<LoadMemory> MeasureLoadMemory(const std::string& model_dir,
                                             const std::string& cache_dir,
                                             std::int64_t budget_bytes, int slots) {
  int out[2];
  if (pipe(out) != 0) return absl::InternalError("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  const std::string budget = std::to_string(budget_bytes);
  const std::string slot_count = std::to_string(slots);
  std::vector<std::string> args = {"ghostbench", "stream", "--load_only", model_dir,
                                   cache_dir,    budget,   slot_count};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  std::string text;
  char buffer[256];
  for (ssize_t n; (n = read(out[0], buffer, sizeof(buffer))) > 0;) text.append(buffer, n);
  close(out[0]);
  if (spawned != 0) return absl::InternalError("cannot start a load process");
  int status = 0;
  waitpid(pid, &status, 0);
  long peak_kb = -1, anon_kb = -1, rss_kb = -1;
  std::istringstream parse(text);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !(parse >> peak_kb >> anon_kb >> rss_kb)) {
    return absl::InternalError(absl::StrCat("the load process failed: ", text));
  }
  return LoadMemory{peak_kb / 1024.0, anon_kb / 1024.0, rss_kb / 1024.0};
}

BurstResult RunBurst(std::shared_ptr<const Model> model, int requests, int prompt_tokens,
                     int new_tokens, absl::Duration spread, absl::Duration window) {
  BurstResult result;
  result.window_ms = absl::ToDoubleMilliseconds(window);
  result.requests = requests;
  ExecutorOptions options;
  options.max_batch_size = requests;
  options.max_step_tokens = std::max(options.max_step_tokens, requests);
  options.stream_gather_window = window;
  absl::StatusOr<std::unique_ptr<Executor>> executor = Executor::Create(model, options);
  if (!executor.ok()) {
    std::fprintf(stderr, "ghostbench stream: %s\n", executor.status().ToString().c_str());
    return result;
  }
  struct Timing {
    double enqueued = 0, first_token = 0, finished = 0;
  };
  absl::Mutex mutex;
  std::vector<Timing> timings(requests);
  int finished = 0;
  const double start = Now();
  for (int r = 0; r < requests; ++r) {
    GenerationRequest request;
    for (int i = 0; i < prompt_tokens; ++i)
      request.prompt_tokens.push_back((r * 31 + i * 7 + 97) % 256);
    request.sampling.temperature = 0.0f;
    request.stopping.max_new_tokens = new_tokens;
    request.stopping.ignore_eos = true;
    {
      absl::MutexLock lock(&mutex);
      timings[r].enqueued = Now();
    }
    ChunkSink sink = [&, r](GenerationChunk chunk) {
      absl::MutexLock lock(&mutex);
      if (timings[r].first_token == 0 && !chunk.token_ids.empty()) timings[r].first_token = Now();
      if (chunk.is_final()) {
        timings[r].finished = Now();
        ++finished;
      }
    };
    if (!(*executor)->Enqueue(std::move(request), std::move(sink)).ok()) return result;
    if (r + 1 < requests) absl::SleepFor(spread / requests);
  }
  {
    absl::MutexLock lock(&mutex);
    const auto all_finished = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex) {
      return finished >= requests;
    };
    mutex.Await(absl::Condition(&all_finished));
  }
  double last = start, ttft = 0;
  for (const Timing& t : timings) {
    last = std::max(last, t.finished);
    ttft += t.first_token - t.enqueued;
  }
  const ExecutorStats stats = (*executor)->stats();
  result.steps = stats.num_steps;
  result.sequences_per_step =
      stats.num_steps > 0 ? static_cast<double>(stats.num_step_sequences) / stats.num_steps : 0;
  result.tokens_per_s = static_cast<double>(requests) * new_tokens / (last - start);
  result.mean_ttft_ms = ttft / requests * 1e3;
  return result;
}

double ChecksumGbPerS(std::size_t bytes) {
  std::vector<std::byte> buffer(bytes);
  std::mt19937 random(7);
  for (std::byte& b : buffer) b = static_cast<std::byte>(random());
  LayerChecksum(buffer.data(), bytes);  // warm
  constexpr int kRounds = 5;
  const double start = Now();
  std::uint32_t sum = 0;
  for (int i = 0; i < kRounds; ++i) sum ^= LayerChecksum(buffer.data(), bytes);
  const double seconds = Now() - start;
  // Stored where the compiler must assume it is read, so the checksums are computed.
  static volatile std::uint32_t keep = 0;
  keep = sum;
  return static_cast<double>(bytes) * kRounds / seconds / 1e9;
}

}  // namespace ghost::bench
