// The life cycle of a registered model, with the allowed transitions checked:
//   importing -> available                      (config.json validated; a failed import
//                                                 removes the entry instead)
//   available | failed -> loading -> ready | failed
//   ready -> loading -> ready                   (reload: the old version serves until the new
//                                                 one is ready, and on failure keeps serving)
//   ready -> unloading -> available             (once the last in-flight request releases it)
//   loading -> available | unloading            (registry shut down during a load)
#ifndef GHOST_ENGINE_REGISTRY_MODEL_STATE_H_
#define GHOST_ENGINE_REGISTRY_MODEL_STATE_H_

#include "absl/status/status.h"

namespace ghost {

enum class ModelState { kImporting, kAvailable, kLoading, kReady, kUnloading, kFailed };

const char* ModelStateName(ModelState state);

// Moves `state` to `next`; INTERNAL (state unchanged) for a transition the machine forbids.
[[nodiscard]] absl::Status TransitionModelState(ModelState& state, ModelState next);

}  // namespace ghost

#endif  // GHOST_ENGINE_REGISTRY_MODEL_STATE_H_
