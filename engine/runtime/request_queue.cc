#include "engine/runtime/request_queue.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ghost {

absl::Status RequestQueue::Push(std::unique_ptr<PendingRequest> request) {
  absl::MutexLock lock(&mutex_);
  if (closed_) return absl::UnavailableError("the model's executor is shutting down");
  if (static_cast<int>(waiting_.size()) >= capacity_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("queue full (", waiting_.size(), " waiting); retry later"));
  }
  waiting_.push_back(std::move(request));
  return absl::OkStatus();
}

void RequestQueue::Cancel(RequestId id) {
  absl::MutexLock lock(&mutex_);
  if (running_ == id) {
    cancel_running_ = true;
    return;
  }
  const auto it = std::find_if(waiting_.begin(), waiting_.end(),
                               [id](const auto& request) { return request->id == id; });
  if (it == waiting_.end()) return;  // unknown or already finished
  cancelled_.push_back(std::move(*it));
  waiting_.erase(it);
}

RequestQueue::Work RequestQueue::WaitForWork() {
  absl::MutexLock lock(&mutex_);
  mutex_.Await(absl::Condition(
      +[](RequestQueue* q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mutex_) {
        return q->closed_ || !q->waiting_.empty() || !q->cancelled_.empty();
      },
      this));
  Work work;
  work.cancelled = std::move(cancelled_);
  cancelled_.clear();
  work.closed = closed_;
  if (!closed_ && !waiting_.empty()) {
    work.next = std::move(waiting_.front());
    waiting_.pop_front();
    running_ = work.next->id;
    cancel_running_ = false;
  }
  return work;
}

std::vector<std::unique_ptr<PendingRequest>> RequestQueue::TakeCancelled() {
  absl::MutexLock lock(&mutex_);
  std::vector<std::unique_ptr<PendingRequest>> cancelled = std::move(cancelled_);
  cancelled_.clear();
  return cancelled;
}

bool RequestQueue::ShouldStopRunning() {
  absl::MutexLock lock(&mutex_);
  return cancel_running_ || closed_;
}

void RequestQueue::FinishRunning() {
  absl::MutexLock lock(&mutex_);
  running_.reset();
  cancel_running_ = false;
}

void RequestQueue::Close() {
  absl::MutexLock lock(&mutex_);
  closed_ = true;
  for (auto& request : waiting_) cancelled_.push_back(std::move(request));
  waiting_.clear();
}

int RequestQueue::num_waiting() const {
  absl::MutexLock lock(&mutex_);
  return static_cast<int>(waiting_.size());
}

int RequestQueue::num_running() const {
  absl::MutexLock lock(&mutex_);
  return running_.has_value() ? 1 : 0;
}

}  // namespace ghost
