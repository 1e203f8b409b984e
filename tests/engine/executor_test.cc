#include "engine/runtime/executor.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "engine/common/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/chunk_collector.h"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using ::ghost::testing::Collector;
using ::testing::HasSubstr;

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = ghost::testing::MakeTempDir("executor");
    ghost::testing::WriteTinyLlama(dir, spec_);
    absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *model;
  }

  std::unique_ptr<Executor> MakeExecutor(int max_queued = 8, int max_batch_size = 32) {
    ExecutorOptions options;
    options.max_queued_requests = max_queued;
    options.max_batch_size = max_batch_size;
    absl::StatusOr<std::unique_ptr<Executor>> executor = Executor::Create(model_, options);
    EXPECT_TRUE(executor.ok()) << executor.status();
    return executor.ok() ? *std::move(executor) : nullptr;
  }

  static GenerationRequest Greedy(int max_new_tokens) {
    GenerationRequest request;
    request.prompt_tokens = {256, 'H', 'e', 'l', 'l', 'o'};
    request.sampling.temperature = 0.0f;
    request.stopping.max_new_tokens = max_new_tokens;
    request.stopping.ignore_eos = true;
    return request;
  }

  ghost::testing::TinyLlamaSpec spec_;
  std::shared_ptr<const Model> model_;
};

TEST_F(ExecutorTest, StreamsTokensAndOneFinalChunk) {
  std::unique_ptr<Executor> executor = MakeExecutor();
  Collector collector;
  ASSERT_TRUE(executor->Enqueue(Greedy(12), collector.Sink()).ok());
  const GenerationChunk final_chunk = collector.WaitFinal();
  EXPECT_EQ(final_chunk.finish_reason, FinishReason::kLength);
  EXPECT_EQ(final_chunk.prompt_tokens, 6);
  EXPECT_EQ(final_chunk.completion_tokens, 12);
  const std::vector<std::int32_t> tokens = collector.tokens();
  ASSERT_EQ(tokens.size(), 12u);
  executor->Shutdown();
  EXPECT_EQ(collector.chunks_after_final(), 0);
  EXPECT_EQ(collector.chunks().size(), 12u);  // one chunk per token, the last one final

  // Same tokens as a hand-written greedy loop over a session.
  std::unique_ptr<ModelSession> session = model_->NewSession();
  std::vector<float> logits;
  std::vector<std::int32_t> expected;
  ASSERT_TRUE(session->Forward(Greedy(1).prompt_tokens, false, logits).ok());
  for (int i = 0; i < 12; ++i) {
    expected.push_back(std::max_element(logits.begin(), logits.end()) - logits.begin());
    ASSERT_TRUE(session->Forward({expected.back()}, false, logits).ok());
  }
  EXPECT_EQ(tokens, expected);
  // The text is the decoded tokens, as whole characters.
  std::string bytes = *model_->tokenizer().Decode(tokens, true);
  EXPECT_EQ(collector.text(), TakeValidUtf8(bytes, true));
  EXPECT_TRUE(IsValidUtf8(collector.text()));
}

TEST_F(ExecutorTest, SeededSamplingIsReproducibleWithLogprobs) {
  std::unique_ptr<Executor> executor = MakeExecutor();
  Collector a, b;
  GenerationRequest request = Greedy(15);
  request.sampling.temperature = 1.0f;
  request.sampling.seed = 1234;
  request.top_logprobs = 3;
  ASSERT_TRUE(executor->Enqueue(request, a.Sink()).ok());
  ASSERT_TRUE(executor->Enqueue(request, b.Sink()).ok());
  a.WaitFinal();
  b.WaitFinal();
  EXPECT_EQ(a.tokens(), b.tokens());
  for (const GenerationChunk& chunk : a.chunks()) {
    ASSERT_EQ(chunk.logprobs.size(), 1u);
    EXPECT_EQ(chunk.logprobs[0].token_id, chunk.token_ids[0]);
    EXPECT_LE(chunk.logprobs[0].logprob, 0.0f);
    EXPECT_EQ(chunk.logprobs[0].top.size(), 3u);
  }
}

TEST_F(ExecutorTest, StopStringEndsGenerationAndIsNotEmitted) {
  std::unique_ptr<Executor> executor = MakeExecutor();
  Collector probe;
  ASSERT_TRUE(executor->Enqueue(Greedy(30), probe.Sink()).ok());
  probe.WaitFinal();
  const std::string text = probe.text();
  ASSERT_GE(text.size(), 8u);
  // Stop at the first occurrence of two whole characters from the middle of the output.
  const auto is_continuation = [&](size_t i) { return (text[i] & 0xC0) == 0x80; };
  size_t begin = text.size() / 2, end = begin;
  while (is_continuation(begin)) ++begin;
  for (int chars = 0; chars < 2 && end < text.size(); ++chars) {
    end = std::max(end, begin) + 1;
    while (end < text.size() && is_continuation(end)) ++end;
  }
  const std::string stop = text.substr(begin, end - begin);
  ASSERT_FALSE(stop.empty());
  const std::string expected = text.substr(0, text.find(stop));

  Collector stopped;
  GenerationRequest request = Greedy(30);
  request.stopping.stop = {stop};
  ASSERT_TRUE(executor->Enqueue(request, stopped.Sink()).ok());
  const GenerationChunk final_chunk = stopped.WaitFinal();
  EXPECT_EQ(final_chunk.finish_reason, FinishReason::kStop);
  EXPECT_EQ(stopped.text(), expected);
}

TEST_F(ExecutorTest, CancelQueuedAndRunning) {
  std::unique_ptr<Executor> executor = MakeExecutor();
  absl::Notification release;
  Collector running, queued, after;
  running.HoldFirstChunk(&release);
  absl::StatusOr<RequestId> running_id = executor->Enqueue(Greedy(40), running.Sink());
  ASSERT_TRUE(running_id.ok());
  running.WaitUntilHeld();
  absl::StatusOr<RequestId> queued_id = executor->Enqueue(Greedy(5), queued.Sink());
  ASSERT_TRUE(queued_id.ok());
  ASSERT_TRUE(executor->Enqueue(Greedy(5), after.Sink()).ok());
  EXPECT_EQ(executor->num_running(), 1);
  EXPECT_EQ(executor->num_waiting(), 2);

  executor->Cancel(*queued_id);
  executor->Cancel(*running_id);
  executor->Cancel(987654);  // unknown ids are ignored
  release.Notify();

  const GenerationChunk queued_final = queued.WaitFinal();
  EXPECT_EQ(queued_final.finish_reason, FinishReason::kCancelled);
  EXPECT_TRUE(queued.tokens().empty());
  const GenerationChunk running_final = running.WaitFinal();
  EXPECT_EQ(running_final.finish_reason, FinishReason::kCancelled);
  EXPECT_LT(running_final.completion_tokens, 40);
  EXPECT_EQ(after.WaitFinal().finish_reason, FinishReason::kLength);
  executor->Cancel(*running_id);  // finished ids are ignored
  executor->Shutdown();
  EXPECT_EQ(running.chunks_after_final(), 0);
  EXPECT_EQ(queued.chunks().size(), 1u);
}

// Admission counts the batch's free slots: a burst fills them and then the queue, even while
// the scheduler has not yet moved anything into the batch. The first request holds the
// scheduler thread in its sink, so admission alone decides here: 1 running, 3 free slots and
// 2 queue places take 5 more requests, and the 6th is refused.
TEST_F(ExecutorTest, ABurstFillsTheFreeBatchSlotsAndThenTheQueue) {
  std::unique_ptr<Executor> executor = MakeExecutor(/*max_queued=*/2, /*max_batch_size=*/4);
  absl::Notification release;
  Collector running;
  running.HoldFirstChunk(&release);
  ASSERT_TRUE(executor->Enqueue(Greedy(3), running.Sink()).ok());
  running.WaitUntilHeld();
  std::vector<std::unique_ptr<Collector>> admitted;
  for (int i = 0; i < 5; ++i) {
    admitted.push_back(std::make_unique<Collector>());
    EXPECT_TRUE(executor->Enqueue(Greedy(3), admitted.back()->Sink()).ok()) << "request " << i;
  }
  Collector rejected;
  const absl::StatusOr<RequestId> full = executor->Enqueue(Greedy(3), rejected.Sink());
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(full.status().message(), "queue full (5 waiting); retry later");
  release.Notify();
  for (auto& collector : admitted) {
    EXPECT_EQ(collector->WaitFinal().finish_reason, FinishReason::kLength);
  }
  EXPECT_TRUE(rejected.chunks().empty());
}

TEST_F(ExecutorTest, ShutdownWithRequestsInFlight) {
  // Room for every request the loop below manages to enqueue before Shutdown closes the queue.
  std::unique_ptr<Executor> executor = MakeExecutor(/*max_queued=*/1 << 20);
  absl::Notification release;
  Collector running, queued1, queued2;
  running.HoldFirstChunk(&release);
  ASSERT_TRUE(executor->Enqueue(Greedy(40), running.Sink()).ok());
  running.WaitUntilHeld();
  ASSERT_TRUE(executor->Enqueue(Greedy(5), queued1.Sink()).ok());
  ASSERT_TRUE(executor->Enqueue(Greedy(5), queued2.Sink()).ok());
  std::thread shutdown([&] { executor->Shutdown(); });
  // Shutdown refuses new work at once, while the running request is still held.
  std::vector<std::unique_ptr<Collector>> late;  // must outlive the executor's use of them
  while (true) {
    late.push_back(std::make_unique<Collector>());
    const absl::StatusOr<RequestId> id = executor->Enqueue(Greedy(3), late.back()->Sink());
    if (!id.ok()) {
      EXPECT_EQ(id.status().code(), absl::StatusCode::kUnavailable);
      break;
    }
    std::this_thread::yield();  // Close() has not run yet; that request will be cancelled
  }
  release.Notify();
  shutdown.join();
  late.pop_back();  // the refused one
  std::vector<Collector*> all = {&running, &queued1, &queued2};
  for (auto& c : late) all.push_back(c.get());
  for (Collector* c : all) {
    EXPECT_EQ(c->WaitFinal().finish_reason, FinishReason::kCancelled);
    EXPECT_EQ(c->chunks_after_final(), 0);
  }
  executor->Shutdown();  // idempotent
  EXPECT_EQ(executor->num_running(), 0);
  EXPECT_EQ(executor->num_waiting(), 0);
}

TEST_F(ExecutorTest, InvalidRequestsAreRejected) {
  std::unique_ptr<Executor> executor = MakeExecutor();
  Collector sink;
  GenerationRequest request = Greedy(10);
  request.prompt_tokens.clear();
  EXPECT_EQ(executor->Enqueue(request, sink.Sink()).status().message(), "the prompt is empty");

  request = Greedy(10);
  request.sampling.temperature = -1;
  EXPECT_EQ(executor->Enqueue(request, sink.Sink()).status().message(),
            "temperature must be a finite number >= 0, got -1");

  request = Greedy(60);  // 6 + 60 > 64
  EXPECT_EQ(executor->Enqueue(request, sink.Sink()).status().message(),
            "prompt (6 tokens) + max_new_tokens (60) exceeds the model's context of 64 tokens");

  request = Greedy(1);
  request.prompt_tokens.assign(70, 'a');
  EXPECT_EQ(executor->Enqueue(request, sink.Sink()).status().message(),
            "prompt (70 tokens) exceeds the model's context of 64 tokens");

  request = Greedy(1);
  request.prompt_tokens = {1000};
  const absl::Status bad_token = executor->Enqueue(request, sink.Sink()).status();
  EXPECT_EQ(bad_token.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_token.message()), HasSubstr("prompt token id 1000"));
  EXPECT_TRUE(sink.chunks().empty());

  ExecutorOptions options;
  options.max_queued_requests = -1;
  EXPECT_EQ(Executor::Create(model_, options).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ghost
