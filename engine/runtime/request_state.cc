#include "engine/runtime/request_state.h"

#include "absl/strings/str_cat.h"

namespace ghost {

const char* RequestStateName(RequestState state) {
  switch (state) {
    case RequestState::kQueued:
      return "queued";
    case RequestState::kRunning:
      return "running";
    case RequestState::kPreempted:
      return "preempted";
    case RequestState::kFinished:
      return "finished";
    case RequestState::kCancelled:
      return "cancelled";
    case RequestState::kFailed:
      return "failed";
  }
  return "?";
}

absl::Status TransitionRequestState(RequestState& state, RequestState next) {
  bool allowed = false;
  switch (state) {
    case RequestState::kQueued:
      allowed = next == RequestState::kRunning || next == RequestState::kCancelled;
      break;
    case RequestState::kRunning:
      allowed = next == RequestState::kFinished || next == RequestState::kCancelled ||
                next == RequestState::kFailed || next == RequestState::kPreempted;
      break;
    case RequestState::kPreempted:
      allowed = next == RequestState::kRunning || next == RequestState::kCancelled;
      break;
    default:
      break;  // terminal states
  }
  if (!allowed) {
    return absl::InternalError(absl::StrCat("request state ", RequestStateName(state), " -> ",
                                            RequestStateName(next), " is not allowed"));
  }
  state = next;
  return absl::OkStatus();
}

}  // namespace ghost
