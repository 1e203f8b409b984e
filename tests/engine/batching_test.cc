// Continuous batching through the Executor: batched requests produce what they produce alone,
// with chunked prefill, preemption, cancellation and shutdown.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "engine/runtime/executor.h"
#include "gtest/gtest.h"
#include "tests/engine/chunk_collector.h"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using ::ghost::testing::Collector;
using ::ghost::testing::TinyLlamaSpec;

std::shared_ptr<const Model> LoadTiny(const TinyLlamaSpec& spec) {
  const std::string dir = ghost::testing::MakeTempDir("batching");
  ghost::testing::WriteTinyLlama(dir, spec);
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

std::unique_ptr<Executor> MakeExecutor(std::shared_ptr<const Model> model,
                                       const ExecutorOptions& options) {
  absl::StatusOr<std::unique_ptr<Executor>> executor = Executor::Create(std::move(model), options);
  EXPECT_TRUE(executor.ok()) << executor.status();
  return executor.ok() ? *std::move(executor) : nullptr;
}

GenerationRequest Greedy(int prompt_length, int max_new_tokens, int salt) {
  GenerationRequest request;
  request.prompt_tokens.push_back(256);
  for (int i = 1; i < prompt_length; ++i)
    request.prompt_tokens.push_back('a' + (i * 7 + salt) % 26);
  request.sampling.temperature = 0.0f;
  request.stopping.max_new_tokens = max_new_tokens;
  request.stopping.ignore_eos = true;
  return request;
}

// The greedy tokens of `request` on a session of its own, without the executor.
std::vector<std::int32_t> GreedyAlone(const Model& model, const GenerationRequest& request) {
  std::unique_ptr<ModelSession> session = model.NewSession();
  std::vector<float> logits;
  std::vector<std::int32_t> tokens;
  EXPECT_TRUE(session->Forward(request.prompt_tokens, false, logits).ok());
  while (static_cast<int>(tokens.size()) < request.stopping.max_new_tokens) {
    tokens.push_back(std::max_element(logits.begin(), logits.end()) - logits.begin());
    EXPECT_TRUE(session->Forward({tokens.back()}, false, logits).ok());
  }
  return tokens;
}

// Runs `requests` concurrently: a held gate request keeps the scheduler busy while they are
// queued, so they are admitted together. Returns the largest num_running() seen by a sink.
int RunTogether(Executor& executor, const std::vector<GenerationRequest>& requests,
                std::vector<std::unique_ptr<Collector>>& collectors) {
  absl::Notification release;
  Collector gate;
  gate.HoldFirstChunk(&release);
  EXPECT_TRUE(executor.Enqueue(Greedy(3, 2, 0), gate.Sink()).ok());
  gate.WaitUntilHeld();
  auto max_running = std::make_shared<std::atomic<int>>(0);
  for (const GenerationRequest& request : requests) {
    collectors.push_back(std::make_unique<Collector>());
    ChunkSink sink = [&executor, max_running,
                      inner = collectors.back()->Sink()](GenerationChunk chunk) {
      const int running = executor.num_running();
      int seen = max_running->load();
      while (running > seen && !max_running->compare_exchange_weak(seen, running)) {
      }
      inner(std::move(chunk));
    };
    const absl::StatusOr<RequestId> id = executor.Enqueue(request, std::move(sink));
    EXPECT_TRUE(id.ok()) << id.status();
    if (!id.ok()) {  // end its stream here, so that the wait below does not hang
      GenerationChunk refused;
      refused.finish_reason = FinishReason::kError;
      collectors.back()->Sink()(std::move(refused));
    }
  }
  release.Notify();
  gate.WaitFinal();
  for (auto& collector : collectors) collector->WaitFinal();
  return max_running->load();
}

TEST(BatchingTest, ConcurrentGreedyRequestsMatchEachAlone) {
  const TinyLlamaSpec spec;
  std::shared_ptr<const Model> model = LoadTiny(spec);
  ASSERT_NE(model, nullptr);
  std::unique_ptr<Executor> executor = MakeExecutor(model, {});
  std::vector<GenerationRequest> requests;
  for (int i = 0; i < 8; ++i) requests.push_back(Greedy(3 + 4 * i, 10 + 3 * i, i));
  std::vector<std::unique_ptr<Collector>> collectors;
  EXPECT_GE(RunTogether(*executor, requests, collectors), 8);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(collectors[i]->tokens(), GreedyAlone(*model, requests[i])) << "request " << i;
    const std::vector<GenerationChunk> chunks = collectors[i]->chunks();
    EXPECT_EQ(chunks.back().finish_reason, FinishReason::kLength);
    EXPECT_EQ(chunks.back().completion_tokens, requests[i].stopping.max_new_tokens);
    EXPECT_EQ(collectors[i]->chunks_after_final(), 0);
  }
  EXPECT_EQ(executor->stats().kv_blocks_in_use, 0);
  EXPECT_EQ(executor->stats().num_preemptions, 0);
}

TEST(BatchingTest, ChunkedPrefillMatchesOneShot) {
  TinyLlamaSpec spec;
  spec.context = 128;
  std::shared_ptr<const Model> model = LoadTiny(spec);
  ASSERT_NE(model, nullptr);
  ExecutorOptions options;
  options.max_batch_size = 4;
  options.max_step_tokens = 8;  // a 100-token prompt takes 13 steps, beside the decoders
  std::unique_ptr<Executor> executor = MakeExecutor(model, options);
  const std::vector<GenerationRequest> requests = {Greedy(100, 12, 1), Greedy(4, 20, 2),
                                                   Greedy(37, 9, 3), Greedy(2, 15, 4)};
  std::vector<std::unique_ptr<Collector>> collectors;
  RunTogether(*executor, requests, collectors);
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(collectors[i]->tokens(), GreedyAlone(*model, requests[i])) << "request " << i;
  }
}

TEST(BatchingTest, PreemptionKeepsGreedyTokensAndStreams) {
  // Large heads make a 64 KiB block: 1 MiB holds 16 blocks (256 positions), the minimum the
  // 128-token context allows is 8; eight requests of up to 4 blocks each must preempt.
  TinyLlamaSpec spec;
  spec.num_kv_heads = 4;
  spec.head_dim = 64;
  spec.context = 128;
  std::shared_ptr<const Model> model = LoadTiny(spec);
  ASSERT_NE(model, nullptr);
  ExecutorOptions options;
  options.kv_cache_mib = 1;
  std::unique_ptr<Executor> executor = MakeExecutor(model, options);
  EXPECT_EQ(executor->stats().kv_blocks_total, 16);
  std::vector<GenerationRequest> requests;
  for (int i = 0; i < 8; ++i) requests.push_back(Greedy(6 + i, 40, i));
  std::vector<std::unique_ptr<Collector>> collectors;
  RunTogether(*executor, requests, collectors);
  EXPECT_GT(executor->stats().num_preemptions, 0);
  for (int i = 0; i < 8; ++i) {
    // Tokens streamed before a preemption are not sent again: one chunk per token.
    EXPECT_EQ(collectors[i]->tokens(), GreedyAlone(*model, requests[i])) << "request " << i;
    EXPECT_EQ(collectors[i]->chunks().size(), 40u);
    EXPECT_EQ(collectors[i]->chunks().back().completion_tokens, 40);
  }
  EXPECT_EQ(executor->stats().kv_blocks_in_use, 0);
}

TEST(BatchingTest, SeededSamplesAreReproducibleUnderBatching) {
  const TinyLlamaSpec spec;
  std::shared_ptr<const Model> model = LoadTiny(spec);
  ASSERT_NE(model, nullptr);
  GenerationRequest seeded = Greedy(5, 20, 3);
  seeded.sampling.temperature = 1.0f;
  seeded.sampling.top_k = 50;
  seeded.sampling.seed = 99;

  std::unique_ptr<Executor> alone_executor = MakeExecutor(model, {});
  Collector alone;
  ASSERT_TRUE(alone_executor->Enqueue(seeded, alone.Sink()).ok());
  alone.WaitFinal();

  // The same request twice among other seeded requests of other lengths.
  std::vector<GenerationRequest> requests;
  for (int i = 0; i < 6; ++i) {
    GenerationRequest other = Greedy(2 + 4 * i, 25, i + 10);
    other.sampling.temperature = 0.8f;
    other.sampling.seed = i;
    requests.push_back(i == 1 || i == 4 ? seeded : other);
  }
  std::unique_ptr<Executor> executor = MakeExecutor(model, {});
  std::vector<std::unique_ptr<Collector>> collectors;
  RunTogether(*executor, requests, collectors);
  EXPECT_EQ(collectors[1]->tokens(), alone.tokens());
  EXPECT_EQ(collectors[4]->tokens(), alone.tokens());
  EXPECT_NE(collectors[0]->tokens(), alone.tokens());
}

TEST(BatchingTest, CancelRunningAndWaitingFreesBlocks) {
  const TinyLlamaSpec spec;
  std::shared_ptr<const Model> model = LoadTiny(spec);
  ASSERT_NE(model, nullptr);
  ExecutorOptions options;
  options.max_batch_size = 3;
  std::unique_ptr<Executor> executor = MakeExecutor(model, options);
  absl::Notification release, release_first;
  Collector held;
  held.HoldFirstChunk(&release);
  ASSERT_TRUE(executor->Enqueue(Greedy(20, 40, 0), held.Sink()).ok());
  held.WaitUntilHeld();
  std::vector<std::unique_ptr<Collector>> collectors;
  std::vector<RequestId> ids;
  for (int i = 0; i < 5; ++i) {
    collectors.push_back(std::make_unique<Collector>());
    absl::StatusOr<RequestId> id = executor->Enqueue(Greedy(30, 30, i), collectors[i]->Sink());
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  // Two of them join the held one in the batch, three wait; the first token of the first
  // holds the scheduler while all are cancelled.
  collectors[0]->HoldFirstChunk(&release_first);
  release.Notify();
  collectors[0]->WaitUntilHeld();
  EXPECT_EQ(executor->num_running(), 3);
  EXPECT_EQ(executor->num_waiting(), 3);
  EXPECT_GT(executor->kv_cache_usage(), 0.0);
  for (RequestId id : ids) executor->Cancel(id);
  release_first.Notify();
  for (auto& collector : collectors) {
    EXPECT_EQ(collector->WaitFinal().finish_reason, FinishReason::kCancelled);
  }
  EXPECT_FALSE(collectors[0]->tokens().empty());
  EXPECT_TRUE(collectors[4]->tokens().empty());
  EXPECT_EQ(held.WaitFinal().finish_reason, FinishReason::kLength);
  const ExecutorStats stats = executor->stats();
  EXPECT_EQ(stats.kv_blocks_in_use, 0);
  EXPECT_EQ(stats.kv_cache_usage, 0.0);
  EXPECT_EQ(stats.num_running, 0);
  EXPECT_EQ(stats.num_waiting, 0);
}

TEST(BatchingTest, ShutdownEndsRunningPreemptedAndWaitingOnce) {
  TinyLlamaSpec spec;
  spec.num_kv_heads = 4;
  spec.head_dim = 64;
  spec.context = 128;
  std::shared_ptr<const Model> model = LoadTiny(spec);
  ASSERT_NE(model, nullptr);
  ExecutorOptions options;
  options.kv_cache_mib = 1;
  options.max_batch_size = 6;
  std::unique_ptr<Executor> executor = MakeExecutor(model, options);
  // A held gate keeps the scheduler busy until all ten are queued.
  absl::Notification release;
  Collector gate;
  gate.HoldFirstChunk(&release);
  ASSERT_TRUE(executor->Enqueue(Greedy(3, 2, 0), gate.Sink()).ok());
  gate.WaitUntilHeld();
  std::vector<std::unique_ptr<Collector>> collectors;
  for (int i = 0; i < 10; ++i) {
    collectors.push_back(std::make_unique<Collector>());
    ChunkSink sink = collectors[i]->Sink();
    if (i == 0) {
      // Shuts down from the scheduler thread at its 30th token: by then the pool is full and
      // requests were preempted, and none of the 100-token requests has finished. It calls
      // Shutdown again with its final chunk, while the test thread may be joining.
      sink = [&executor, inner = std::move(sink), tokens = 0](GenerationChunk chunk) mutable {
        tokens += static_cast<int>(chunk.token_ids.size());
        inner(std::move(chunk));
        if (tokens == 30) executor->Shutdown();
      };
    }
    ASSERT_TRUE(executor->Enqueue(Greedy(10 + i, 100, i), std::move(sink)).ok());
  }
  release.Notify();
  collectors[0]->WaitFinal();
  executor->Shutdown();  // joins the scheduler thread
  for (auto& collector : collectors) {
    EXPECT_EQ(collector->chunks().size(), collector->tokens().size() + 1);  // one final, empty
    EXPECT_EQ(collector->WaitFinal().finish_reason, FinishReason::kCancelled);
    EXPECT_EQ(collector->chunks_after_final(), 0);
  }
  EXPECT_GT(executor->stats().num_preemptions, 0);
  EXPECT_EQ(executor->stats().kv_blocks_in_use, 0);
}

TEST(BatchingTest, QueueTimeComesWithTheFirstChunk) {
  const TinyLlamaSpec spec;
  std::shared_ptr<const Model> model = LoadTiny(spec);
  ASSERT_NE(model, nullptr);
  std::unique_ptr<Executor> executor = MakeExecutor(model, {});
  absl::Notification release;
  Collector held, cancelled;
  held.HoldFirstChunk(&release);
  ASSERT_TRUE(executor->Enqueue(Greedy(5, 6, 0), held.Sink()).ok());
  held.WaitUntilHeld();
  absl::StatusOr<RequestId> id = executor->Enqueue(Greedy(5, 6, 1), cancelled.Sink());
  ASSERT_TRUE(id.ok());
  executor->Cancel(*id);
  release.Notify();
  held.WaitFinal();
  const std::vector<GenerationChunk> chunks = held.chunks();
  ASSERT_EQ(chunks.size(), 6u);
  ASSERT_TRUE(chunks[0].queue_time.has_value());
  EXPECT_GE(*chunks[0].queue_time, absl::ZeroDuration());
  for (size_t i = 1; i < chunks.size(); ++i) EXPECT_FALSE(chunks[i].queue_time.has_value());
  const GenerationChunk final_chunk = cancelled.WaitFinal();  // never ran: queued until cancelled
  ASSERT_TRUE(final_chunk.queue_time.has_value());
  EXPECT_GE(*final_chunk.queue_time, absl::ZeroDuration());
}

TEST(BatchingTest, OptionsAreValidated) {
  const auto code = [](ExecutorOptions options) { return options.Validate().code(); };
  EXPECT_EQ(code({}), absl::StatusCode::kOk);
  ExecutorOptions options;
  options.max_batch_size = 0;
  EXPECT_EQ(code(options), absl::StatusCode::kInvalidArgument);
  options = {};
  options.max_step_tokens = 31;
  EXPECT_EQ(options.Validate().message(),
            "max_step_tokens must be >= max_batch_size (32) so that every running request "
            "decodes each step, got 31");
  options = {};
  options.kv_cache_mib = 0;
  EXPECT_EQ(options.Validate().message(), "kv_cache_mib must be >= 1, got 0");
}

}  // namespace
}  // namespace ghost
