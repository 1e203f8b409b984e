#include "server/evaluation_workers.h"

#include <utility>

namespace ghost::server {

EvaluationWorkers::EvaluationWorkers(int threads, int max_waiting) : max_waiting_(max_waiting) {
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { WorkerLoop(); });
}

EvaluationWorkers::~EvaluationWorkers() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

bool EvaluationWorkers::TrySubmit(Task& task) {
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(waiting_.size()) >= max_waiting_) return false;
  waiting_.push_back(std::move(task));
  return true;
}

void EvaluationWorkers::WorkerLoop() {
  for (;;) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || !waiting_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (waiting_.empty()) return;  // stopping, and nothing left to run
      task = std::move(waiting_.front());
      waiting_.pop_front();
    }
    std::move(task)();
  }
}

}  // namespace ghost::server
