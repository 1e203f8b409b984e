// The v0 executor: one scheduler thread runs one request at a time, FIFO.
#include "engine/runtime/executor.h"

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "engine/common/log.h"
#include "engine/runtime/request_queue.h"
#include "engine/runtime/sequence.h"

namespace ghost {
namespace {

class SerialExecutor final : public Executor {
 public:
  SerialExecutor(std::shared_ptr<const Model> model, const ExecutorOptions& options)
      : model_(std::move(model)), queue_(options.max_queued_requests) {
    thread_ = std::thread([this] { SchedulerLoop(); });
  }
  ~SerialExecutor() override { Shutdown(); }

  absl::StatusOr<RequestId> Enqueue(GenerationRequest request, ChunkSink sink) override;
  void Cancel(RequestId id) override { queue_.Cancel(id); }
  void Shutdown() override;
  int num_running() const override { return queue_.num_running(); }
  int num_waiting() const override { return queue_.num_waiting(); }

 private:
  absl::Status CheckFitsModel(const GenerationRequest& request) const;
  void SchedulerLoop();
  void Run(PendingRequest& pending);
  // Delivers the final chunk after checking the state transition it implies.
  void Finish(PendingRequest& pending, GenerationChunk chunk, RequestState next);
  void CancelWaiting(std::vector<std::unique_ptr<PendingRequest>> cancelled);

  std::shared_ptr<const Model> model_;
  RequestQueue queue_;
  std::atomic<RequestId> next_id_{1};
  absl::Mutex shutdown_mutex_;  // serializes concurrent Shutdown() calls around the join
  std::thread thread_;
};

absl::Status SerialExecutor::CheckFitsModel(const GenerationRequest& request) const {
  const ModelConfig& config = model_->config();
  const int context = config.max_position_embeddings;
  const int prompt = static_cast<int>(request.prompt_tokens.size());
  for (std::int32_t token : request.prompt_tokens) {
    if (token < 0 || token >= config.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prompt token id ", token, " is outside the vocabulary [0, ", config.vocab_size, ")"));
    }
  }
  if (prompt > context) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prompt (", prompt, " tokens) exceeds the model's context of ", context, " tokens"));
  }
  if (prompt + request.stopping.max_new_tokens > context) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prompt (", prompt, " tokens) + max_new_tokens (", request.stopping.max_new_tokens,
        ") exceeds the model's context of ", context, " tokens"));
  }
  return absl::OkStatus();
}

absl::StatusOr<RequestId> SerialExecutor::Enqueue(GenerationRequest request, ChunkSink sink) {
  if (absl::Status s = request.Validate(); !s.ok()) return s;
  if (absl::Status s = CheckFitsModel(request); !s.ok()) return s;
  if (!sink) return absl::InvalidArgumentError("a chunk sink is required");
  auto pending = std::make_unique<PendingRequest>();
  pending->id = next_id_.fetch_add(1);
  pending->request = std::move(request);
  pending->sink = std::move(sink);
  const RequestId id = pending->id;
  if (absl::Status s = queue_.Push(std::move(pending)); !s.ok()) return s;
  return id;
}

void SerialExecutor::Shutdown() {
  absl::MutexLock lock(&shutdown_mutex_);
  queue_.Close();
  // From a sink (the scheduler thread itself) the loop ends on its own once the sink returns.
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void SerialExecutor::Finish(PendingRequest& pending, GenerationChunk chunk, RequestState next) {
  if (absl::Status s = TransitionRequestState(pending.state, next); !s.ok()) {
    LogWarning(absl::StrCat("request ", pending.id, ": ", s.message()));
  }
  pending.sink(std::move(chunk));
}

void SerialExecutor::CancelWaiting(std::vector<std::unique_ptr<PendingRequest>> cancelled) {
  for (auto& pending : cancelled) {
    GenerationChunk chunk;
    chunk.finish_reason = FinishReason::kCancelled;
    chunk.prompt_tokens = static_cast<int>(pending->request.prompt_tokens.size());
    Finish(*pending, std::move(chunk), RequestState::kCancelled);
  }
}

void SerialExecutor::Run(PendingRequest& pending) {
  if (absl::Status s = TransitionRequestState(pending.state, RequestState::kRunning); !s.ok()) {
    LogWarning(absl::StrCat("request ", pending.id, ": ", s.message()));
  }
  Sequence sequence(*model_, pending.request);
  if (absl::Status s = sequence.Prefill(); !s.ok()) {
    Finish(pending, sequence.Failed(std::move(s)), RequestState::kFailed);
    return;
  }
  while (true) {
    // Requests cancelled while waiting get their answer without waiting for this one.
    CancelWaiting(queue_.TakeCancelled());
    if (queue_.ShouldStopRunning()) {
      Finish(pending, sequence.Cancelled(), RequestState::kCancelled);
      return;
    }
    GenerationChunk chunk = sequence.Step();
    switch (chunk.finish_reason) {
      case FinishReason::kNone:
        pending.sink(std::move(chunk));
        break;
      case FinishReason::kError:
        Finish(pending, std::move(chunk), RequestState::kFailed);
        return;
      default:
        Finish(pending, std::move(chunk), RequestState::kFinished);
        return;
    }
  }
}

void SerialExecutor::SchedulerLoop() {
  while (true) {
    RequestQueue::Work work = queue_.WaitForWork();
    CancelWaiting(std::move(work.cancelled));
    if (work.next != nullptr) {
      Run(*work.next);
      queue_.FinishRunning();
    }
    if (work.closed) return;
  }
}

}  // namespace

absl::Status ExecutorOptions::Validate() const {
  if (max_queued_requests < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_queued_requests must be >= 0, got ", max_queued_requests));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Executor>> Executor::Create(std::shared_ptr<const Model> model,
                                                           const ExecutorOptions& options) {
  if (model == nullptr) return absl::InvalidArgumentError("Executor needs a model");
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  return std::unique_ptr<Executor>(new SerialExecutor(std::move(model), options));
}

}  // namespace ghost
