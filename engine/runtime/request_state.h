// The life cycle of an enqueued request, with the allowed transitions checked:
//   queued -> running -> finished | cancelled | failed
//   queued -> cancelled
//   running -> preempted -> running | cancelled
// A preempted request lost its KV cache to a running one; it waits at the head of the queue
// and recomputes its prompt and generated tokens once readmitted.
#ifndef GHOST_ENGINE_RUNTIME_REQUEST_STATE_H_
#define GHOST_ENGINE_RUNTIME_REQUEST_STATE_H_

#include "absl/status/status.h"

namespace ghost {

enum class RequestState { kQueued, kRunning, kPreempted, kFinished, kCancelled, kFailed };

const char* RequestStateName(RequestState state);

// Moves `state` to `next`; INTERNAL (state unchanged) for a transition the machine forbids.
[[nodiscard]] absl::Status TransitionRequestState(RequestState& state, RequestState next);

}  // namespace ghost

#endif  // GHOST_ENGINE_RUNTIME_REQUEST_STATE_H_
