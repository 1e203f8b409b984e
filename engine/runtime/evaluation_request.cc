#include "engine/runtime/evaluation_request.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ghost {

absl::Status ValidateEvaluationText(std::string_view text, const RequestLimits& limits) {
  if (text.empty()) return absl::InvalidArgumentError("the text to evaluate is empty");
  if (text.size() > limits.max_prompt_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the text is ", text.size(), " bytes; this server accepts at most ",
                     limits.max_prompt_bytes, " (ghostserve --max_prompt_bytes raises the bound)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ResolveEvaluationWindow(int requested, int context_tokens) {
  if (requested == 0) return std::min(kDefaultEvaluationWindow, context_tokens);
  if (requested < 2 || requested > context_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("window must be 0 (the default) or in [2, ",
                                                   context_tokens, "] (the context served), got ",
                                                   requested));
  }
  return requested;
}

}  // namespace ghost
