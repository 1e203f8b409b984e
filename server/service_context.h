// What every RPC handler needs: the registry, metrics, authentication and the drain state.
#ifndef GHOST_SERVER_SERVICE_CONTEXT_H_
#define GHOST_SERVER_SERVICE_CONTEXT_H_

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/registry/registry.h"
#include "engine/runtime/request_defaults.h"
#include "server/auth.h"
#include "server/metrics.h"

namespace ghost::server {

// Counts Generate streams in flight so shutdown can wait for them, and refuses new ones once
// draining has begun.
class StreamTracker {
 public:
  // False once draining: the caller must refuse the stream.
  [[nodiscard]] bool Enter();
  void Exit();
  void BeginDrain();
  // True when no stream is left before `deadline`.
  bool WaitIdle(absl::Time deadline);
  int in_flight() const;

 private:
  mutable absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

struct ServiceContext {
  ModelRegistry* registry = nullptr;
  ServerMetrics* metrics = nullptr;
  const Authenticator* auth = nullptr;
  StreamTracker* streams = nullptr;
  std::string default_model;
  RequestLimits limits;  // bounds on what a request may carry (--max_prompt_bytes)
  // Sets the readiness health status from the default model's state; called after every
  // load or unload (may be empty in tests of single services).
  std::function<void()> refresh_readiness;

  // Name of the model a request addresses ("" = the default).
  const std::string& ModelName(const std::string& requested) const {
    return requested.empty() ? default_model : requested;
  }
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_SERVICE_CONTEXT_H_
