// The threads Inference/Evaluate runs on. An evaluation takes seconds to minutes, so it must not
// hold one of gRPC's callback threads: the handler queues it here and returns. The queue is
// bounded, so that a burst of evaluations is refused (RESOURCE_EXHAUSTED) rather than held in
// memory, text and all, for as long as the ones before it run.
#ifndef GHOST_SERVER_EVALUATION_WORKERS_H_
#define GHOST_SERVER_EVALUATION_WORKERS_H_

#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace ghost::server {

class EvaluationWorkers {
 public:
  using Task = absl::AnyInvocable<void() &&>;

  // Starts `threads` (>= 1) threads that run tasks in the order they were submitted; at most
  // `max_waiting` tasks wait for one.
  EvaluationWorkers(int threads, int max_waiting);
  // Runs every task already submitted, then joins the threads. The server destroys this after
  // the gRPC server has shut down, which waits for every call, so by then the queue is empty.
  ~EvaluationWorkers();
  EvaluationWorkers(const EvaluationWorkers&) = delete;
  EvaluationWorkers& operator=(const EvaluationWorkers&) = delete;

  // Queues `task`; false (and `task` left untouched) when max_waiting tasks are waiting already.
  [[nodiscard]] bool TrySubmit(Task& task);

 private:
  void WorkerLoop();

  const int max_waiting_;
  absl::Mutex mu_;
  std::deque<Task> waiting_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;  // last: started once the members above exist
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_EVALUATION_WORKERS_H_
