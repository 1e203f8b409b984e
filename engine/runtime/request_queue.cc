#include "engine/runtime/request_queue.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ghost {

absl::Status RequestQueue::Push(std::unique_ptr<PendingRequest> request) {
  absl::MutexLock lock(&mutex_);
  if (closed_) return absl::UnavailableError("the model's executor is shutting down");
  // Waiting requests that the scheduler has not yet moved into free batch slots are not queued
  // behind anyone: counting them against the queue would refuse a burst while the batch idles.
  const int free_slots = std::max(0, batch_slots_ - static_cast<int>(running_.size()));
  if (static_cast<int>(waiting_.size()) >= capacity_ + free_slots) {
    return absl::ResourceExhaustedError(
        absl::StrCat("queue full (", waiting_.size(), " waiting); retry later"));
  }
  waiting_.push_back(std::move(request));
  return absl::OkStatus();
}

void RequestQueue::Cancel(RequestId id) {
  absl::MutexLock lock(&mutex_);
  if (running_.contains(id)) {
    cancel_running_.insert(id);
    return;
  }
  const auto it = std::find_if(waiting_.begin(), waiting_.end(),
                               [id](const auto& request) { return request->id == id; });
  if (it == waiting_.end()) return;  // unknown or already finished
  cancelled_.push_back(std::move(*it));
  waiting_.erase(it);
}

void RequestQueue::Close() {
  absl::MutexLock lock(&mutex_);
  closed_ = true;
  for (auto& request : waiting_) cancelled_.push_back(std::move(request));
  waiting_.clear();
}

RequestQueue::Events RequestQueue::TakeEvents(bool wait) {
  absl::MutexLock lock(&mutex_);
  if (wait) {
    mutex_.Await(absl::Condition(
        +[](RequestQueue* q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mutex_) {
          return q->closed_ || !q->waiting_.empty() || !q->cancelled_.empty() ||
                 !q->cancel_running_.empty();
        },
        this));
  }
  Events events;
  events.cancelled = std::move(cancelled_);
  cancelled_.clear();
  events.cancelled_running.assign(cancel_running_.begin(), cancel_running_.end());
  cancel_running_.clear();
  events.closed = closed_;
  return events;
}

void RequestQueue::AwaitWaiting(int count, absl::Duration timeout) {
  absl::MutexLock lock(&mutex_);
  const auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return closed_ || static_cast<int>(waiting_.size()) >= count;
  };
  mutex_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

std::unique_ptr<PendingRequest> RequestQueue::PopIf(
    absl::FunctionRef<bool(const PendingRequest&)> admit) {
  absl::MutexLock lock(&mutex_);
  if (closed_ || waiting_.empty() || !admit(*waiting_.front())) return nullptr;
  std::unique_ptr<PendingRequest> request = std::move(waiting_.front());
  waiting_.pop_front();
  running_.insert(request->id);
  return request;
}

void RequestQueue::Requeue(std::unique_ptr<PendingRequest> request) {
  absl::MutexLock lock(&mutex_);
  running_.erase(request->id);
  if (closed_ || cancel_running_.erase(request->id) > 0) {
    cancelled_.push_back(std::move(request));
    return;
  }
  waiting_.push_front(std::move(request));
}

void RequestQueue::FinishRunning(RequestId id) {
  absl::MutexLock lock(&mutex_);
  running_.erase(id);
  cancel_running_.erase(id);
}

int RequestQueue::num_waiting() const {
  absl::MutexLock lock(&mutex_);
  return static_cast<int>(waiting_.size());
}

int RequestQueue::num_running() const {
  absl::MutexLock lock(&mutex_);
  return static_cast<int>(running_.size());
}

}  // namespace ghost
