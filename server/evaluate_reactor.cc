#include "server/evaluate_reactor.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/model/evaluate.h"
#include "engine/runtime/evaluation_request.h"
#include "server/raw_message.h"
#include "server/status.h"

namespace ghost::server {

EvaluateReactor::EvaluateReactor(const ServiceContext& ctx, EvaluationWorkers& workers,
                                 grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* raw_request,
                                 grpc::ByteBuffer* raw_response)
    : ctx_(ctx), context_(context), raw_response_(raw_response) {
  Start(workers, *raw_request);
}

void EvaluateReactor::Start(EvaluationWorkers& workers, const grpc::ByteBuffer& raw_request) {
  if (grpc::Status auth = ctx_.auth->Check(*context_); !auth.ok()) return Finish(auth);
  if (grpc::Status parsed = ParseRequest(raw_request, request_); !parsed.ok()) {
    return Finish(parsed);
  }
  if (!ctx_.streams->Enter(this)) {
    return Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               "the server is shutting down; retry on another replica"));
  }
  tracked_ = true;
  model_name_ = ctx_.ModelName(request_.model());
  auto model = ctx_.registry->GetReady(model_name_);
  if (!model.ok()) return Finish(ToGrpcStatus(model.status()));
  model_ = *std::move(model);
  if (absl::Status valid = ValidateEvaluationText(request_.text(), ctx_.limits); !valid.ok()) {
    return Finish(ToGrpcStatus(valid));
  }
  absl::StatusOr<int> window =
      ResolveEvaluationWindow(request_.window(), model_->executor->context_tokens());
  if (!window.ok()) return Finish(ToGrpcStatus(window.status()));
  window_ = *window;
  EvaluationWorkers::Task task = [this] { Evaluate(); };
  if (!workers.TrySubmit(task)) {
    // gRPC's retry pushback hint, as Generate gives when its queue is full.
    context_->AddTrailingMetadata("grpc-retry-pushback-ms", "1000");
    Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "too many evaluations are waiting; retry later"));
  }
}

absl::Status EvaluateReactor::BeforeChunk(std::int64_t done, std::int64_t total) {
  absl::MutexLock lock(&mu_);
  if (abort_status_.has_value()) {
    // absl's and gRPC's codes share their numbering (status.cc).
    return absl::Status(static_cast<absl::StatusCode>(abort_status_->error_code()),
                        abort_status_->error_message());
  }
  // Before the cancellation: gRPC cancels a call whose deadline has passed too.
  if (std::chrono::system_clock::now() >= context_->deadline()) {
    return absl::DeadlineExceededError(
        absl::StrCat("the deadline passed with ", done, " of ", total, " bytes evaluated"));
  }
  if (cancelled_) return absl::CancelledError("the call was cancelled");
  return absl::OkStatus();
}

void EvaluateReactor::Evaluate() {
  absl::StatusOr<EvalResult> result = EvaluateBitsPerByte(
      *model_->model, request_.text(), window_, kEvaluationChunkTokens,
      [this](std::int64_t done, std::int64_t total) { return BeforeChunk(done, total); });
  // Released here, not in OnDone: an unloaded model's memory goes as soon as its last user ends.
  model_.reset();
  if (!result.ok()) return Finish(ToGrpcStatus(result.status()));
  ghost::v1::EvaluateResponse response;
  response.set_bits_per_byte(result->bits_per_byte);
  response.set_bytes_predicted(result->bytes_predicted);
  response.set_model(model_name_);
  response.set_window(window_);
  response.set_mlp_activation_sparsity(result->mlp_activation_sparsity);
  SerializeResponse(response, *raw_response_);
  // Nothing of this object is touched after Finish: OnDone may delete it at once.
  Finish(grpc::Status::OK);
}

void EvaluateReactor::OnCancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
}

void EvaluateReactor::Abort(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  if (!abort_status_.has_value()) abort_status_ = status;
}

void EvaluateReactor::OnDone() {
  if (tracked_) ctx_.streams->Exit(this);
  delete this;
}

}  // namespace ghost::server
