#include "engine/runtime/stop_rules.h"

#include <algorithm>

namespace ghost {

StopRules::StopRules(const StoppingOptions& options, const std::vector<std::int32_t>& eos_token_ids)
    : options_(options), stop_tokens_(options.stop_token_ids) {
  if (!options.ignore_eos) {
    stop_tokens_.insert(stop_tokens_.end(), eos_token_ids.begin(), eos_token_ids.end());
  }
}

std::vector<std::int32_t> StopRules::SuppressedTokens() const {
  if (generated_ >= options_.min_new_tokens) return {};
  return stop_tokens_;
}

std::size_t StopRules::PartialStopLength() const {
  std::size_t longest = 0;
  for (const std::string& stop : options_.stop) {
    const std::size_t max_length = std::min(stop.size() - 1, held_.size());
    for (std::size_t length = max_length; length > longest; --length) {
      if (std::string_view(held_).substr(held_.size() - length) ==
          std::string_view(stop).substr(0, length)) {
        longest = length;
        break;
      }
    }
  }
  return longest;
}

StopRules::Step StopRules::Append(std::int32_t token, std::string_view text) {
  ++generated_;
  held_.append(text);
  Step step;
  // Stops count only once min_new_tokens tokens exist (this one included).
  const bool may_stop = generated_ > options_.min_new_tokens;

  if (may_stop && !options_.stop.empty()) {
    std::size_t earliest = std::string::npos;
    for (const std::string& stop : options_.stop) earliest = std::min(earliest, held_.find(stop));
    if (earliest != std::string::npos) {
      step.text = held_.substr(0, earliest);
      held_.clear();
      step.finish_reason = FinishReason::kStop;
      step.matched_stop_string = true;
      return step;
    }
  }
  if (may_stop &&
      std::find(stop_tokens_.begin(), stop_tokens_.end(), token) != stop_tokens_.end()) {
    step.finish_reason = FinishReason::kStop;
  } else if (generated_ >= options_.max_new_tokens) {
    step.finish_reason = FinishReason::kLength;
  }
  if (step.finish_reason != FinishReason::kNone) {
    step.text = TakeHeldText();
    return step;
  }
  const std::size_t hold = PartialStopLength();
  step.text = held_.substr(0, held_.size() - hold);
  held_.erase(0, held_.size() - hold);
  return step;
}

std::string StopRules::TakeHeldText() {
  std::string text = std::move(held_);
  held_.clear();
  return text;
}

}  // namespace ghost
