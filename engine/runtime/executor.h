// The engine's public API for one loaded model: enqueue a request and get an id, receive its
// chunks through a sink, cancel by id, shut down. One scheduler thread runs the model.
#ifndef GHOST_ENGINE_RUNTIME_EXECUTOR_H_
#define GHOST_ENGINE_RUNTIME_EXECUTOR_H_

#include <memory>

#include "absl/status/statusor.h"
#include "engine/model/model.h"
#include "engine/runtime/request.h"

namespace ghost {

struct ExecutorOptions {
  // Requests waiting beyond the running one; Enqueue answers RESOURCE_EXHAUSTED past this.
  int max_queued_requests = 64;

  absl::Status Validate() const;
};

class Executor {
 public:
  // Starts the scheduler thread. The model must outlive the executor (it is shared).
  static absl::StatusOr<std::unique_ptr<Executor>> Create(std::shared_ptr<const Model> model,
                                                          const ExecutorOptions& options);
  virtual ~Executor() = default;

  // Validates the request (INVALID_ARGUMENT: empty prompt, prompt + max_new_tokens beyond the
  // context, bad sampling values), queues it (RESOURCE_EXHAUSTED when full, UNAVAILABLE after
  // Shutdown) and returns its id. On success the sink will receive exactly one final chunk.
  [[nodiscard]] virtual absl::StatusOr<RequestId> Enqueue(GenerationRequest request,
                                                          ChunkSink sink) = 0;
  // Stops the request at the next step; its sink gets a final chunk with kCancelled.
  // Unknown or finished ids are ignored.
  virtual void Cancel(RequestId id) = 0;
  // Refuses new requests, cancels queued and running ones (each gets its final chunk), joins
  // the scheduler thread. Idempotent; the destructor calls it.
  virtual void Shutdown() = 0;

  virtual int num_running() const = 0;
  virtual int num_waiting() const = 0;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_RUNTIME_EXECUTOR_H_
