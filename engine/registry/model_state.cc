#include "engine/registry/model_state.h"

#include "absl/strings/str_cat.h"

namespace ghost {

const char* ModelStateName(ModelState state) {
  switch (state) {
    case ModelState::kImporting:
      return "importing";
    case ModelState::kAvailable:
      return "available";
    case ModelState::kLoading:
      return "loading";
    case ModelState::kReady:
      return "ready";
    case ModelState::kUnloading:
      return "unloading";
    case ModelState::kFailed:
      return "failed";
  }
  return "?";
}

absl::Status TransitionModelState(ModelState& state, ModelState next) {
  bool allowed = false;
  switch (state) {
    case ModelState::kImporting:
      allowed = next == ModelState::kAvailable;
      break;
    case ModelState::kAvailable:
    case ModelState::kFailed:
      allowed = next == ModelState::kLoading;
      break;
    case ModelState::kLoading:
      allowed = next == ModelState::kReady || next == ModelState::kFailed ||
                next == ModelState::kAvailable || next == ModelState::kUnloading;
      break;
    case ModelState::kReady:
      allowed = next == ModelState::kLoading || next == ModelState::kUnloading;
      break;
    case ModelState::kUnloading:
      allowed = next == ModelState::kAvailable;
      break;
  }
  if (!allowed) {
    return absl::InternalError(absl::StrCat("model state ", ModelStateName(state), " -> ",
                                            ModelStateName(next), " is not allowed"));
  }
  state = next;
  return absl::OkStatus();
}

}  // namespace ghost
