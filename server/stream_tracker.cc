#include "server/service_context.h"

namespace ghost::server {

bool StreamTracker::Enter() {
  absl::MutexLock lock(&mu_);
  if (draining_) return false;
  ++in_flight_;
  return true;
}

void StreamTracker::Exit() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

void StreamTracker::BeginDrain() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
}

bool StreamTracker::WaitIdle(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

int StreamTracker::in_flight() const {
  absl::MutexLock lock(&mu_);
  return in_flight_;
}

}  // namespace ghost::server
