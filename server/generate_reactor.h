// The server side of one Generate stream: parses and validates, enqueues into the model's executor
// and writes chunks back with at most one write in flight, never blocking a gRPC thread. Requests
// and responses are raw bytes (raw_message.h: invalid UTF-8 gets INVALID_ARGUMENT naming the
// field).
#ifndef GHOST_SERVER_GENERATE_REACTOR_H_
#define GHOST_SERVER_GENERATE_REACTOR_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/registry/registry.h"
#include "ghost/v1/inference.pb.h"
#include "server/chunk_metrics.h"
#include "server/service_context.h"

namespace ghost::server {

class GenerateReactor : public grpc::ServerWriteReactor<grpc::ByteBuffer>, public AbortableStream {
 public:
  // Starts the request (a serialized ghost.v1.GenerateRequest); the reactor deletes itself in
  // OnDone.
  GenerateReactor(const ServiceContext& ctx, grpc::CallbackServerContext* context,
                  const grpc::ByteBuffer* request);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;
  // Shutdown, at the end of the grace period: the engine request is cancelled, what is pending
  // is dropped, and the stream finishes with `status` once the write in flight (if any) is done.
  void Abort(const grpc::Status& status) override;

 private:
  // What to do once the lock is released: gRPC calls are made outside it, because OnDone may
  // delete this object as soon as Finish has been called.
  struct Action {
    bool write = false;
    bool finish = false;
    grpc::Status status;
  };

  void Start(const grpc::ByteBuffer& raw_request);
  void FinishEarly(const grpc::Status& status);
  // Called on the engine's scheduler thread.
  void OnChunk(GenerationChunk chunk);
  Action NextAction() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run(const Action& action);

  const ServiceContext& ctx_;
  grpc::CallbackServerContext* const context_;
  const absl::Time arrival_ = absl::Now();
  std::string request_id_;  // echoed in the first message only
  std::shared_ptr<LoadedModel> model_;
  ModelMetrics* metrics_ = nullptr;
  bool tracked_ = false;

  absl::Mutex mu_;
  std::deque<GenerationChunk> pending_ ABSL_GUARDED_BY(mu_);
  ghost::v1::GenerateResponse response_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer write_buffer_ ABSL_GUARDED_BY(mu_);  // response_ serialized: the write in flight
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool request_id_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool final_received_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  bool client_gone_ ABSL_GUARDED_BY(mu_) = false;
  bool aborted_ ABSL_GUARDED_BY(mu_) = false;  // final_status_ holds the abort's status
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  bool enqueued_ ABSL_GUARDED_BY(mu_) = false;
  RequestId engine_id_ ABSL_GUARDED_BY(mu_) = 0;
  // Set before Enqueue; records under mu_.
  std::optional<ChunkMetricsRecorder> recorder_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_GENERATE_REACTOR_H_
