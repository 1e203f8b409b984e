// The scheduler's batching policy for a model that streams layers (ExecutorOptions::
// stream_gather_window): an idle scheduler gathers a burst before its first streamed step, so
// every step carries the whole burst; it never waits past the window, on shutdown, or for a
// resident model. Asserted through the executor's step counters and the streamer's bytes.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/layer_streamer.h"
#include "engine/runtime/executor.h"
#include "gtest/gtest.h"
#include "tests/engine/chunk_collector.h"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using ::ghost::testing::Collector;
using ::ghost::testing::TinyLlamaSpec;

constexpr int kNewTokens = 4;

GenerationRequest Greedy(int salt) {
  GenerationRequest request;
  for (int i = 0; i < 5; ++i) request.prompt_tokens.push_back('a' + (i * 7 + salt) % 26);
  request.sampling.temperature = 0.0f;
  request.stopping.max_new_tokens = kNewTokens;
  request.stopping.ignore_eos = true;
  return request;
}

class StreamBatchingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TinyLlamaSpec spec = ghost::testing::WideLayerSpec(8);
    spec.seed = 9;
    dir_ = ghost::testing::MakeTempDir("stream-batching");
    cache_dir_ = ghost::testing::MakeTempDir("stream-batching-cache");
    ghost::testing::WriteTinyLlama(dir_, spec);
    absl::StatusOr<std::shared_ptr<const Model>> resident = Model::Load(dir_);
    ASSERT_TRUE(resident.ok()) << resident.status();
    resident_ = *resident;
    ModelOptions options;
    options.weight_budget_bytes = resident_->summary().resident_weight_bytes / 2;
    options.layer_cache_dir = cache_dir_;
    absl::StatusOr<std::shared_ptr<const Model>> streamed = Model::Load(dir_, options);
    ASSERT_TRUE(streamed.ok()) << streamed.status();
    streamed_ = *streamed;
    ASSERT_NE(streamed_->layer_streamer(), nullptr);
  }

  void TearDown() override {
    std::filesystem::remove_all(dir_);
    std::filesystem::remove_all(cache_dir_);
  }

  static std::unique_ptr<Executor> MakeExecutor(std::shared_ptr<const Model> model,
                                                absl::Duration window) {
    ExecutorOptions options;
    options.max_batch_size = 8;
    options.stream_gather_window = window;
    absl::StatusOr<std::unique_ptr<Executor>> executor =
        Executor::Create(std::move(model), options);
    EXPECT_TRUE(executor.ok()) << executor.status();
    return executor.ok() ? *std::move(executor) : nullptr;
  }

  // Enqueues `count` requests back to back and waits for every final chunk.
  static void RunBurst(Executor& executor, int count) {
    std::vector<std::unique_ptr<Collector>> collectors;
    for (int i = 0; i < count; ++i) {
      collectors.push_back(std::make_unique<Collector>());
      ASSERT_TRUE(executor.Enqueue(Greedy(i), collectors.back()->Sink()).ok());
    }
    for (auto& collector : collectors) {
      EXPECT_EQ(collector->WaitFinal().finish_reason, FinishReason::kLength);
      EXPECT_EQ(collector->tokens().size(), static_cast<std::size_t>(kNewTokens));
    }
  }

  std::string dir_, cache_dir_;
  std::shared_ptr<const Model> resident_, streamed_;
};

// Eight requests arriving together on a streamed model with a batch of eight: the scheduler
// waits for all of them (the hour-long window is a bound never reached: the eighth arrival ends
// it), so one prefill step and kNewTokens - 1 decode steps carry all eight, and each step
// streams the streamed layers exactly once. Stepping at the first arrival would take a step
// more, the first carrying one request.
TEST_F(StreamBatchingTest, ABurstOnAStreamedModelSharesEveryStreamedStep) {
  const StreamStats before = streamed_->layer_streamer()->stats();
  std::unique_ptr<Executor> executor = MakeExecutor(streamed_, absl::Hours(1));
  ASSERT_NE(executor, nullptr);
  RunBurst(*executor, 8);
  const ExecutorStats stats = executor->stats();
  EXPECT_EQ(stats.num_steps, kNewTokens);
  EXPECT_EQ(stats.num_step_sequences, 8 * kNewTokens);
  const StreamStats after = streamed_->layer_streamer()->stats();
  EXPECT_EQ(
      after.acquired_bytes - before.acquired_bytes,
      static_cast<std::int64_t>(streamed_->layer_streamer()->bytes_per_step()) * stats.num_steps);
}

// Fewer requests than a batch: the scheduler steps once the window has passed.
TEST_F(StreamBatchingTest, ALoneRequestStepsOnceTheWindowHasPassed) {
  std::unique_ptr<Executor> executor = MakeExecutor(streamed_, absl::Milliseconds(5));
  ASSERT_NE(executor, nullptr);
  RunBurst(*executor, 1);
  EXPECT_EQ(executor->stats().num_steps, kNewTokens);
  EXPECT_EQ(executor->stats().num_step_sequences, kNewTokens);
}

// Shutdown ends a gather at once: the waiting request is cancelled, nothing was computed.
TEST_F(StreamBatchingTest, ShutdownEndsTheGather) {
  std::unique_ptr<Executor> executor = MakeExecutor(streamed_, absl::Hours(1));
  ASSERT_NE(executor, nullptr);
  Collector collector;
  ASSERT_TRUE(executor->Enqueue(Greedy(0), collector.Sink()).ok());
  executor->Shutdown();
  EXPECT_EQ(collector.WaitFinal().finish_reason, FinishReason::kCancelled);
  EXPECT_EQ(executor->stats().num_steps, 0);
}

// A resident model steps at the first arrival whatever the window (an hour here: waiting for a
// batch would leave this request unanswered).
TEST_F(StreamBatchingTest, AResidentModelNeverWaits) {
  std::unique_ptr<Executor> executor = MakeExecutor(resident_, absl::Hours(1));
  ASSERT_NE(executor, nullptr);
  RunBurst(*executor, 1);
  EXPECT_EQ(executor->stats().num_steps, kNewTokens);
}

TEST(StreamGatherWindowTest, ANegativeWindowIsInvalid) {
  ExecutorOptions options;
  options.stream_gather_window = absl::Milliseconds(-1);
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ghost
