// One generation request of the HTTP front end, from admission to its final chunk: the model's
// serving version, the engine request, the chunks the engine has delivered and not yet been
// taken, the metrics (api="http"), and the drain. The engine's sink only touches a shared inbox,
// never the model, so a sink never owns a LoadedModel (registry.h).
#ifndef GHOST_SERVER_HTTP_GENERATION_CALL_H_
#define GHOST_SERVER_HTTP_GENERATION_CALL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/registry/registry.h"
#include "engine/runtime/request_defaults.h"
#include "server/service_context.h"

namespace ghost::server::http {

class GenerationCall final : public AbortableStream {
 public:
  // Registers with the stream tracker (UNAVAILABLE once draining), takes the serving version of
  // `model_name` (NOT_FOUND, UNAVAILABLE when not loaded), resolves `request` against it and
  // enqueues it (INVALID_ARGUMENT, RESOURCE_EXHAUSTED when the queue is full, ...).
  static absl::StatusOr<std::unique_ptr<GenerationCall>> Start(
      const ServiceContext& ctx, const std::string& model_name,
      const ClientGenerationRequest& request, absl::Time arrival);
  // Cancels the engine request unless it has finished (a client that went away), and leaves
  // the tracker and the running gauge.
  ~GenerationCall();

  // The chunks delivered since the last call, waiting up to `timeout` for one; empty on
  // timeout and after the final chunk has been returned.
  std::vector<GenerationChunk> Next(absl::Duration timeout);

  // Set when shutdown aborted the call: the reason to send instead of the final chunk's
  // kCancelled.
  absl::Status abort_status() const;

  const Model& model() const { return *model_->model; }

  // Shutdown, at the end of the grace period: cancels the engine request; Next then returns
  // its final (kCancelled) chunk.
  void Abort(const grpc::Status& status) override;

 private:
  struct Inbox;
  GenerationCall(const ServiceContext& ctx, absl::Time arrival);
  absl::Status Begin(const std::string& model_name, const ClientGenerationRequest& request);

  const ServiceContext& ctx_;
  const absl::Time arrival_;
  std::shared_ptr<Inbox> inbox_;
  std::shared_ptr<LoadedModel> model_;
  ModelMetrics* metrics_ = nullptr;
  bool tracked_ = false;
  bool final_taken_ = false;  // only the caller's thread reads and writes it
};

}  // namespace ghost::server::http

#endif  // GHOST_SERVER_HTTP_GENERATION_CALL_H_
