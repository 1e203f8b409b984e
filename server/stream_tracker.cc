#include "server/service_context.h"

namespace ghost::server {

bool StreamTracker::Enter(AbortableStream* stream) {
  absl::MutexLock lock(&mu_);
  if (draining_) return false;
  in_flight_.insert(stream);
  return true;
}

void StreamTracker::Exit(AbortableStream* stream) {
  absl::MutexLock lock(&mu_);
  in_flight_.erase(stream);
}

void StreamTracker::BeginDrain() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
}

bool StreamTracker::WaitIdle(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return in_flight_.empty(); };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

void StreamTracker::AbortAll(const grpc::Status& status) {
  // Under the lock: a stream's OnDone (and its deletion) waits in Exit until this returns.
  absl::MutexLock lock(&mu_);
  for (AbortableStream* stream : in_flight_) stream->Abort(status);
}

int StreamTracker::in_flight() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(in_flight_.size());
}

}  // namespace ghost::server
