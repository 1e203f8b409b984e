// An evaluation request (bits per byte of a served model on a client's text) checked and its
// window resolved: the one place for every front end, as request_defaults.h is for generation.
// The evaluation itself is EvaluateBitsPerByte (engine/model/evaluate.h).
#ifndef GHOST_ENGINE_RUNTIME_EVALUATION_REQUEST_H_
#define GHOST_ENGINE_RUNTIME_EVALUATION_REQUEST_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/runtime/request_defaults.h"

namespace ghost {

// The window a request without one gets, unless the served context is shorter.
inline constexpr int kDefaultEvaluationWindow = 1024;
// Tokens per forward call of a served evaluation: the granularity at which a cancelled or
// expired one stops, small enough to stop within a fraction of a second on a CPU.
inline constexpr int kEvaluationChunkTokens = 256;

// INVALID_ARGUMENT when `text` is empty or longer than limits.max_prompt_bytes (the message names
// ghostserve's --max_prompt_bytes, which raises the bound). Any bytes are accepted: a byte-level
// model predicts bytes, whatever the encoding.
[[nodiscard]] absl::Status ValidateEvaluationText(std::string_view text,
                                                  const RequestLimits& limits);

// The window an evaluation runs with: `requested`, or for 0 kDefaultEvaluationWindow capped at
// `context_tokens` (the context served, Executor::context_tokens). INVALID_ARGUMENT naming the
// range when `requested` is not 0 and outside [2, context_tokens].
[[nodiscard]] absl::StatusOr<int> ResolveEvaluationWindow(int requested, int context_tokens);

}  // namespace ghost

#endif  // GHOST_ENGINE_RUNTIME_EVALUATION_REQUEST_H_
