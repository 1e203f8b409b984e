// What every RPC handler needs: the registry, metrics, authentication and the drain state.
#ifndef GHOST_SERVER_SERVICE_CONTEXT_H_
#define GHOST_SERVER_SERVICE_CONTEXT_H_

#include <grpcpp/support/status.h>

#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/registry/registry.h"
#include "engine/runtime/request_defaults.h"
#include "server/auth.h"
#include "server/metrics.h"

namespace ghost::server {

// A stream that shutdown can end early.
class AbortableStream {
 public:
  // Ends the stream with `status` as soon as it can (its engine request is cancelled, nothing more
  // is written); the stream still calls StreamTracker::Exit from its OnDone. Must not block or
  // call back into the tracker.
  virtual void Abort(const grpc::Status& status) = 0;

 protected:
  ~AbortableStream() = default;
};

// Tracks the Generate streams in flight so that shutdown can wait for them, end those that
// outlive the grace period, and refuse new ones once draining has begun.
class StreamTracker {
 public:
  // False once draining: the caller must refuse the stream. Otherwise `stream` is tracked until
  // Exit(stream).
  [[nodiscard]] bool Enter(AbortableStream* stream);
  void Exit(AbortableStream* stream);
  void BeginDrain();
  // True when no stream is left before `deadline`.
  bool WaitIdle(absl::Time deadline);
  // Calls Abort(status) on every stream in flight. A stream's Exit waits until its Abort has
  // returned, so no stream is destroyed during its Abort.
  void AbortAll(const grpc::Status& status);
  int in_flight() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_set<AbortableStream*> in_flight_ ABSL_GUARDED_BY(mu_);
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
