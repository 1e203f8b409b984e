// All of the executor's shared state and its locking: the bounded FIFO of waiting requests,
// the requests cancelled while waiting, the ids of the running ones and their cancel flags.
// Callers' threads push and cancel; the scheduler thread takes work. No user code (no sink)
// runs under the lock.
#ifndef GHOST_ENGINE_RUNTIME_REQUEST_QUEUE_H_
#define GHOST_ENGINE_RUNTIME_REQUEST_QUEUE_H_

#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/runtime/request.h"
#include "engine/runtime/request_state.h"
#include "engine/runtime/sequence.h"

namespace ghost {

struct PendingRequest {
  RequestId id = 0;
  GenerationRequest request;
  ChunkSink sink;
  absl::Time enqueued_at;
  // The rest is the scheduler's once the request has been taken from the queue.
  RequestState state = RequestState::kQueued;
  std::optional<absl::Time> first_admitted_at;
  bool delivered_any = false;          // whether the sink got a chunk yet
  std::unique_ptr<Sequence> sequence;  // made at first admission; survives preemption
};

class RequestQueue {
 public:
  // `capacity` requests may wait beyond the free slots of a running batch of `batch_slots`.
  RequestQueue(int capacity, int batch_slots) : capacity_(capacity), batch_slots_(batch_slots) {}

  // Admission: a burst fills every free batch slot and then `capacity` more, however far the
  // scheduler has got in taking requests into the batch. RESOURCE_EXHAUSTED when the waiting
  // requests already number `capacity` plus the batch's free slots; UNAVAILABLE once closed.
  [[nodiscard]] absl::Status Push(std::unique_ptr<PendingRequest> request);
  // Cancels a waiting request (it moves to the cancelled list) or flags a running one.
  void Cancel(RequestId id);
  // Refuses further pushes; every waiting request moves to the cancelled list.
  void Close();

  // Scheduler side.
  struct Events {
    std::vector<std::unique_ptr<PendingRequest>> cancelled;  // off the waiting queue
    std::vector<RequestId> cancelled_running;                // running ones to stop
    bool closed = false;
  };
  // When `wait`, blocks until a request waits, a cancellation is pending or the queue is
  // closed; then (or at once) takes the cancellations.
  Events TakeEvents(bool wait);
  // Blocks until `count` requests wait or the queue is closed, for at most `timeout`.
  void AwaitWaiting(int count, absl::Duration timeout);
  // Takes the head of the waiting queue into the running set if `admit` accepts it; FIFO, so a
  // refused head holds back those behind it. `admit` runs under the lock: it must be quick and
  // must not call back into the queue.
  std::unique_ptr<PendingRequest> PopIf(absl::FunctionRef<bool(const PendingRequest&)> admit);
  // A preempted running request goes back to the head of the waiting queue (beyond the
  // capacity: it was admitted before); to the cancelled list if it was cancelled meanwhile or
  // the queue is closed.
  void Requeue(std::unique_ptr<PendingRequest> request);
  // A running request has had its final chunk.
  void FinishRunning(RequestId id);

  int num_waiting() const;
  int num_running() const;

 private:
  const int capacity_;
  const int batch_slots_;
  mutable absl::Mutex mutex_;
  std::deque<std::unique_ptr<PendingRequest>> waiting_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::unique_ptr<PendingRequest>> cancelled_ ABSL_GUARDED_BY(mutex_);
  absl::flat_hash_set<RequestId> running_ ABSL_GUARDED_BY(mutex_);
  absl::flat_hash_set<RequestId> cancel_running_ ABSL_GUARDED_BY(mutex_);  // subset of running_
  bool closed_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_RUNTIME_REQUEST_QUEUE_H_
