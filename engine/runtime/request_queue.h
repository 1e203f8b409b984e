// All of the executor's shared state and its locking: the bounded FIFO of waiting requests,
// the requests cancelled while waiting, and the cancel flag of the running one. Callers'
// threads push and cancel; the scheduler thread takes work. No user code runs under the lock.
#ifndef GHOST_ENGINE_RUNTIME_REQUEST_QUEUE_H_
#define GHOST_ENGINE_RUNTIME_REQUEST_QUEUE_H_

#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "engine/runtime/request.h"
#include "engine/runtime/request_state.h"

namespace ghost {

struct PendingRequest {
  RequestId id = 0;
  GenerationRequest request;
  ChunkSink sink;
  RequestState state = RequestState::kQueued;  // owned by the scheduler once taken
};

class RequestQueue {
 public:
  explicit RequestQueue(int capacity) : capacity_(capacity) {}

  // RESOURCE_EXHAUSTED when `capacity` requests are waiting, UNAVAILABLE once closed.
  [[nodiscard]] absl::Status Push(std::unique_ptr<PendingRequest> request);

  // Cancels a waiting request (it moves to the cancelled list) or flags the running one.
  void Cancel(RequestId id);

  // Scheduler side. Blocks until a request waits, a cancellation is pending or the queue is
  // closed; then returns the cancelled requests and, unless closed, the next one to run (which
  // becomes the running request).
  struct Work {
    std::vector<std::unique_ptr<PendingRequest>> cancelled;
    std::unique_ptr<PendingRequest> next;
    bool closed = false;
  };
  Work WaitForWork();
  // Non-blocking, between decode steps: requests cancelled while waiting.
  std::vector<std::unique_ptr<PendingRequest>> TakeCancelled();
  // Whether the running request should stop (cancelled, or the queue closed).
  bool ShouldStopRunning();
  void FinishRunning();

  // Refuses further pushes; every waiting request moves to the cancelled list.
  void Close();

  int num_waiting() const;
  int num_running() const;

 private:
  const int capacity_;
  mutable absl::Mutex mutex_;
  std::deque<std::unique_ptr<PendingRequest>> waiting_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::unique_ptr<PendingRequest>> cancelled_ ABSL_GUARDED_BY(mutex_);
  std::optional<RequestId> running_ ABSL_GUARDED_BY(mutex_);
  bool cancel_running_ ABSL_GUARDED_BY(mutex_) = false;
  bool closed_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_RUNTIME_REQUEST_QUEUE_H_
