#include "engine/runtime/request.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/common/utf8.h"

namespace ghost {
namespace {

// Requests beyond these are almost certainly mistakes and would only waste the engine.
constexpr int kMaxTopLogprobs = 20;
constexpr int kMaxStopStrings = 16;
constexpr std::size_t kMaxStopStringBytes = 256;
constexpr std::size_t kMaxStopTokenIds = 256;

template <typename T>
absl::Status OutOfRange(const char* field, const char* allowed, T value) {
  return absl::InvalidArgumentError(absl::StrCat(field, " must be ", allowed, ", got ", value));
}

}  // namespace

absl::Status SamplingOptions::Validate() const {
  if (!std::isfinite(temperature) || temperature < 0) {
    return OutOfRange("temperature", "a finite number >= 0", temperature);
  }
  if (!(top_p > 0 && top_p <= 1)) return OutOfRange("top_p", "in (0, 1]", top_p);
  if (top_k < 0) return OutOfRange("top_k", ">= 0 (0 disables it)", top_k);
  if (!(min_p >= 0 && min_p <= 1)) return OutOfRange("min_p", "in [0, 1]", min_p);
  if (!std::isfinite(repetition_penalty) || repetition_penalty <= 0) {
    return OutOfRange("repetition_penalty", "a finite number > 0", repetition_penalty);
  }
  if (!(presence_penalty >= -2 && presence_penalty <= 2)) {
    return OutOfRange("presence_penalty", "in [-2, 2]", presence_penalty);
  }
  if (!(frequency_penalty >= -2 && frequency_penalty <= 2)) {
    return OutOfRange("frequency_penalty", "in [-2, 2]", frequency_penalty);
  }
  return absl::OkStatus();
}

absl::Status StoppingOptions::Validate() const {
  if (max_new_tokens <= 0) return OutOfRange("max_new_tokens", "> 0", max_new_tokens);
  if (min_new_tokens < 0 || min_new_tokens > max_new_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("min_new_tokens must be in [0, max_new_tokens=",
                                                   max_new_tokens, "], got ", min_new_tokens));
  }
  if (stop.size() > kMaxStopStrings) {
    return OutOfRange("the number of stop strings", "at most 16", stop.size());
  }
  for (const std::string& s : stop) {
    if (s.empty() || s.size() > kMaxStopStringBytes) {
      return OutOfRange("each stop string's length", "in [1, 256] bytes", s.size());
    }
    // Output is matched as UTF-8 text; a broken sequence could match inside a character.
    if (!IsValidUtf8(s)) return absl::InvalidArgumentError("stop strings must be valid UTF-8");
  }
  if (stop_token_ids.size() > kMaxStopTokenIds) {
    return OutOfRange("the number of stop_token_ids", "at most 256", stop_token_ids.size());
  }
  for (std::int32_t id : stop_token_ids) {
    if (id < 0) return OutOfRange("stop_token_ids", "non-negative token ids", id);
  }
  return absl::OkStatus();
}

absl::Status GenerationRequest::Validate() const {
  if (prompt_tokens.empty()) return absl::InvalidArgumentError("the prompt is empty");
  if (top_logprobs < 0 || top_logprobs > kMaxTopLogprobs) {
    return OutOfRange("top_logprobs", "in [0, 20]", top_logprobs);
  }
  if (absl::Status s = sampling.Validate(); !s.ok()) return s;
  return stopping.Validate();
}

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kNone:
      return "";
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kError:
      return "error";
  }
  return "";
}

}  // namespace ghost
