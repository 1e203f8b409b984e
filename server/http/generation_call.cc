#include "server/http/generation_call.h"

#include <deque>
#include <optional>
#include <utility>

#include "engine/common/status_macros.h"
#include "server/chunk_metrics.h"

namespace ghost::server::http {

// What the engine's sink and the call share. The sink may outlive the call (the engine delivers
// the final chunk of a cancelled request later), so the inbox is held by both.
struct GenerationCall::Inbox {
  absl::Mutex mu;
  std::deque<GenerationChunk> chunks ABSL_GUARDED_BY(mu);
  std::optional<ChunkMetricsRecorder> recorder ABSL_GUARDED_BY(mu);
  bool enqueued ABSL_GUARDED_BY(mu) = false;
  bool final_received ABSL_GUARDED_BY(mu) = false;
  bool aborted ABSL_GUARDED_BY(mu) = false;
  absl::Status abort_status ABSL_GUARDED_BY(mu);
  RequestId engine_id ABSL_GUARDED_BY(mu) = 0;
  // A copy of the call's executor pointer for Abort; valid while the call holds the model.
  Executor* executor ABSL_GUARDED_BY(mu) = nullptr;
};

GenerationCall::GenerationCall(const ServiceContext& ctx, absl::Time arrival)
    : ctx_(ctx), arrival_(arrival), inbox_(std::make_shared<Inbox>()) {}

absl::StatusOr<std::unique_ptr<GenerationCall>> GenerationCall::Start(
    const ServiceContext& ctx, const std::string& model_name,
    const ClientGenerationRequest& request, absl::Time arrival) {
  std::unique_ptr<GenerationCall> call(new GenerationCall(ctx, arrival));
  GHOST_RETURN_IF_ERROR(call->Begin(model_name, request));
  return call;
}

absl::Status GenerationCall::Begin(const std::string& model_name,
                                   const ClientGenerationRequest& request) {
  if (!ctx_.streams->Enter(this)) {
    return absl::UnavailableError("the server is shutting down; retry on another replica");
  }
  tracked_ = true;
  GHOST_ASSIGN_OR_RETURN(model_, ctx_.registry->GetReady(model_name));
  metrics_ = &ctx_.metrics->ForModel(model_name, Api::kHttp);
  metrics_->requests_running.Increment();
  GHOST_ASSIGN_OR_RETURN(GenerationRequest resolved,
                         ResolveGenerationRequest(request, *model_->model, ctx_.limits));
  const auto prompt_tokens = static_cast<double>(resolved.prompt_tokens.size());
  {
    absl::MutexLock lock(&inbox_->mu);
    inbox_->recorder.emplace(*metrics_, arrival_);
    inbox_->executor = model_->executor.get();
  }
  std::shared_ptr<Inbox> inbox = inbox_;
  GHOST_ASSIGN_OR_RETURN(
      const RequestId id,
      model_->executor->Enqueue(std::move(resolved), [inbox](GenerationChunk chunk) {
        absl::MutexLock lock(&inbox->mu);
        inbox->recorder->Record(chunk);
        if (chunk.is_final()) inbox->final_received = true;
        inbox->chunks.push_back(std::move(chunk));
      }));
  metrics_->prompt_tokens.Increment(prompt_tokens);
  bool cancel_now;
  {
    absl::MutexLock lock(&inbox_->mu);
    inbox_->enqueued = true;
    inbox_->engine_id = id;
    cancel_now = inbox_->aborted && !inbox_->final_received;
  }
  // An abort that came before the id was known.
  if (cancel_now) model_->executor->Cancel(id);
  return absl::OkStatus();
}

GenerationCall::~GenerationCall() {
  bool cancel;
  RequestId id;
  {
    absl::MutexLock lock(&inbox_->mu);
    cancel = inbox_->enqueued && !inbox_->final_received;
    id = inbox_->engine_id;
    inbox_->executor = nullptr;
  }
  if (cancel) model_->executor->Cancel(id);
  if (metrics_ != nullptr) metrics_->requests_running.Decrement();
  if (tracked_) ctx_.streams->Exit(this);
}

std::vector<GenerationChunk> GenerationCall::Next(absl::Duration timeout) {
  std::vector<GenerationChunk> out;
  if (final_taken_) return out;
  Inbox& inbox = *inbox_;
  absl::MutexLock lock(&inbox.mu);
  auto ready = [&inbox]() ABSL_SHARED_LOCKS_REQUIRED(inbox.mu) { return !inbox.chunks.empty(); };
  inbox.mu.AwaitWithTimeout(absl::Condition(&ready), timeout);
  while (!inbox.chunks.empty()) {
    if (inbox.chunks.front().is_final()) final_taken_ = true;
    out.push_back(std::move(inbox.chunks.front()));
    inbox.chunks.pop_front();
  }
  return out;
}

absl::Status GenerationCall::abort_status() const {
  absl::MutexLock lock(&inbox_->mu);
  return inbox_->abort_status;
}

void GenerationCall::Abort(const grpc::Status& status) {
  Executor* executor;
  RequestId id;
  {
    absl::MutexLock lock(&inbox_->mu);
    if (inbox_->aborted) return;
    inbox_->aborted = true;
    inbox_->abort_status = absl::UnavailableError(status.error_message());
    if (!inbox_->enqueued || inbox_->final_received) return;  // before Enqueue, Begin cancels it
    executor = inbox_->executor;
    id = inbox_->engine_id;
  }
  if (executor != nullptr) executor->Cancel(id);
}

}  // namespace ghost::server::http
