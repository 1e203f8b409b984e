// The server side of one Inference/Evaluate call: bits per byte of a served model on the client's
// text (EvaluateBitsPerByte, engine/model/evaluate.h). The handler checks the request on gRPC's
// thread and queues the evaluation on an EvaluationWorkers thread, which finishes the call; the
// evaluation stops between chunks of kEvaluationChunkTokens when the client cancels, the deadline
// passes or the server's grace period ends (it is tracked as an AbortableStream, so a drain waits
// for it as for a Generate stream).
//
// Beside the scheduler's Generate steps the evaluation runs the same immutable Model on a session
// of its own (its own runner, activations and KV cache), which model.h and backend.h allow; a
// model that streams layers takes its step lock per forward call (engine/model/llama.cc), so the
// evaluation's steps and the scheduler's interleave whole, and the kernels' shared thread pool
// runs a second caller on that caller's thread alone (kernels/cpu/thread_pool.h).
#ifndef GHOST_SERVER_EVALUATE_REACTOR_H_
#define GHOST_SERVER_EVALUATE_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "engine/registry/registry.h"
#include "ghost/v1/inference.pb.h"
#include "server/evaluation_workers.h"
#include "server/service_context.h"

namespace ghost::server {

class EvaluateReactor final : public grpc::ServerUnaryReactor, public AbortableStream {
 public:
  // Starts the call (a serialized ghost.v1.EvaluateRequest); `raw_response` receives the
  // serialized EvaluateResponse. The reactor deletes itself in OnDone.
  EvaluateReactor(const ServiceContext& ctx, EvaluationWorkers& workers,
                  grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw_request,
                  grpc::ByteBuffer* raw_response);

  void OnCancel() override;
  void OnDone() override;
  // Shutdown, at the end of the grace period: the evaluation stops at its next chunk and the call
  // finishes with `status`.
  void Abort(const grpc::Status& status) override;

 private:
  void Start(EvaluationWorkers& workers, const grpc::ByteBuffer& raw_request);
  // On a worker thread; finishes the call.
  void Evaluate();
  // Before every chunk: why the evaluation must stop (CANCELLED, DEADLINE_EXCEEDED, or
  // UNAVAILABLE once aborted), or OK.
  absl::Status BeforeChunk(std::int64_t done, std::int64_t total);

  const ServiceContext& ctx_;
  grpc::CallbackServerContext* const context_;
  grpc::ByteBuffer* const raw_response_;
  ghost::v1::EvaluateRequest request_;
  std::string model_name_;
  std::shared_ptr<LoadedModel> model_;
  int window_ = 0;
  bool tracked_ = false;

  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> abort_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_EVALUATE_REACTOR_H_
