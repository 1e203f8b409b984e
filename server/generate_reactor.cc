#include "server/generate_reactor.h"

#include <utility>

#include "server/generate_request.h"
#include "server/raw_message.h"
#include "server/status.h"

namespace ghost::server {

GenerateReactor::GenerateReactor(const ServiceContext& ctx, grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request)
    : ctx_(ctx), context_(context) {
  Start(*request);
}

void GenerateReactor::Start(const grpc::ByteBuffer& raw_request) {
  if (grpc::Status auth = ctx_.auth->Check(*context_); !auth.ok()) return FinishEarly(auth);
  ghost::v1::GenerateRequest request;
  if (grpc::Status parsed = ParseRequest(raw_request, request); !parsed.ok()) {
    return FinishEarly(parsed);
  }
  request_id_ = request.request_id();
  if (!ctx_.streams->Enter(this)) {
    return FinishEarly(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                    "the server is shutting down; retry on another replica"));
  }
  tracked_ = true;
  const std::string& name = ctx_.ModelName(request.model());
  auto model = ctx_.registry->GetReady(name);
  if (!model.ok()) return FinishEarly(ToGrpcStatus(model.status()));
  model_ = *std::move(model);
  // Set before Enqueue: the engine may call the sink before Enqueue returns.
  metrics_ = &ctx_.metrics->ForModel(name, Api::kGrpc);
  metrics_->requests_running.Increment();
  {
    absl::MutexLock lock(&mu_);
    recorder_.emplace(*metrics_, arrival_);
  }
  auto engine_request =
      ResolveGenerationRequest(ToClientGenerationRequest(request), *model_->model, ctx_.limits);
  if (!engine_request.ok()) return FinishEarly(ToGrpcStatus(engine_request.status()));
  const auto prompt_tokens = static_cast<double>(engine_request->prompt_tokens.size());

  auto id = model_->executor->Enqueue(*std::move(engine_request),
                                      [this](GenerationChunk chunk) { OnChunk(std::move(chunk)); });
  if (!id.ok()) return FinishEarly(ToGrpcStatus(id.status()));

  metrics_->prompt_tokens.Increment(prompt_tokens);
  bool cancel_now;
  Action action;
  {
    absl::MutexLock lock(&mu_);
    enqueued_ = true;
    engine_id_ = *id;
    cancel_now = (client_gone_ || aborted_) && !final_received_;
    action = NextAction();
  }
  if (cancel_now) model_->executor->Cancel(*id);
  Run(action);
}

void GenerateReactor::FinishEarly(const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
    // gRPC's retry pushback hint: well-behaved clients wait this long before retrying.
    context_->AddTrailingMetadata("grpc-retry-pushback-ms", "250");
  }
  {
    absl::MutexLock lock(&mu_);
    finish_called_ = true;
  }
  Finish(status);
}

void GenerateReactor::OnChunk(GenerationChunk chunk) {
  Action action;
  {
    absl::MutexLock lock(&mu_);
    recorder_->Record(chunk);
    if (chunk.is_final()) {
      final_received_ = true;
      if (chunk.finish_reason == FinishReason::kError && !aborted_) {
        final_status_ = ToGrpcStatus(chunk.error);
      }
    }
    // Once the client is gone or the stream aborted nothing more is sent; only the final chunk
    // matters (after it the engine no longer calls this object).
    if (!client_gone_ && !aborted_) pending_.push_back(std::move(chunk));
    action = NextAction();
  }
  Run(action);
}

GenerateReactor::Action GenerateReactor::NextAction() {
  Action action;
  if (!enqueued_ || write_in_flight_ || finish_called_) return action;
  if (client_gone_) {
    if (final_received_) {
      finish_called_ = true;
      action.finish = true;
      action.status = grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled");
    }
    return action;
  }
  if (aborted_) {
    if (final_received_) {
      finish_called_ = true;
      action.finish = true;
      action.status = final_status_;
    }
    return action;
  }
  if (!pending_.empty()) {
    response_.Clear();
    // Once, not per message: a long id would otherwise be multiplied by the number of messages.
    if (!request_id_sent_) {
      response_.set_request_id(request_id_);
      request_id_sent_ = true;
    }
    // A slow reader gets the backlog merged into one message rather than many.
    for (const GenerationChunk& chunk : pending_) AppendChunk(chunk, response_);
    pending_.clear();
    SerializeResponse(response_, write_buffer_);
    write_in_flight_ = true;
    action.write = true;
  } else if (final_received_) {
    finish_called_ = true;
    action.finish = true;
    action.status = final_status_;
  }
  return action;
}

void GenerateReactor::Run(const Action& action) {
  // write_buffer_ is only touched under mu_ while no write is in flight, so passing it is safe.
  if (action.write) StartWrite(&write_buffer_);
  if (action.finish) Finish(action.status);
}

void GenerateReactor::OnWriteDone(bool ok) {
  Action action;
  bool cancel = false;
  RequestId id;
  {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    if (!ok && !client_gone_) {
      client_gone_ = true;
      pending_.clear();
      cancel = !final_received_;
    }
    id = engine_id_;
    action = NextAction();
  }
  if (cancel) model_->executor->Cancel(id);
  Run(action);
}

void GenerateReactor::OnCancel() {
  bool cancel;
  RequestId id;
  {
    absl::MutexLock lock(&mu_);
    client_gone_ = true;
    pending_.clear();
    cancel = enqueued_ && !final_received_;
    id = engine_id_;
  }
  if (cancel) model_->executor->Cancel(id);
}

void GenerateReactor::Abort(const grpc::Status& status) {
  bool cancel;
  RequestId id;
  Action action;
  {
    absl::MutexLock lock(&mu_);
    if (finish_called_ || aborted_) return;
    aborted_ = true;
    final_status_ = status;
    pending_.clear();
    cancel = enqueued_ && !final_received_;  // before Enqueue, Start cancels it
    id = engine_id_;
    action = NextAction();
  }
  if (cancel) model_->executor->Cancel(id);
  Run(action);
}

void GenerateReactor::OnDone() {
  if (metrics_ != nullptr) metrics_->requests_running.Decrement();
  if (tracked_) ctx_.streams->Exit(this);
  delete this;
}

}  // namespace ghost::server
