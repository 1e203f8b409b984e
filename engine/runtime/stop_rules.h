// Decides when a request's generation ends and which text may be streamed so far. Text that
// could be the beginning of a stop string is held back until it is known not to be one, so a
// stop string never reaches the client, even when it spans several tokens.
#ifndef GHOST_ENGINE_RUNTIME_STOP_RULES_H_
#define GHOST_ENGINE_RUNTIME_STOP_RULES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/runtime/request.h"

namespace ghost {

class StopRules {
 public:
  // `eos_token_ids` come from the model config; ignored when options.ignore_eos.
  StopRules(const StoppingOptions& options, const std::vector<std::int32_t>& eos_token_ids);

  // Tokens that must not be sampled now: EOS and stop tokens until min_new_tokens have been
  // generated (as HF and vLLM do: the model is steered away rather than its choice ignored).
  std::vector<std::int32_t> SuppressedTokens() const;

  struct Step {
    std::string text;  // safe to stream now
    FinishReason finish_reason = FinishReason::kNone;
    bool matched_stop_string = false;  // the rest of the output is discarded
  };
  // Feeds one generated token and the text it completed (from StreamDecoder).
  Step Append(std::int32_t token, std::string_view text);

  // Releases held-back text when the stream ends without a stop string (e.g. cancelled).
  std::string TakeHeldText();

  int generated_tokens() const { return generated_; }

 private:
  // Length of the longest suffix of held_ that is a proper prefix of some stop string.
  std::size_t PartialStopLength() const;

  StoppingOptions options_;
  std::vector<std::int32_t> stop_tokens_;  // stop_token_ids + EOS
  std::string held_;
  int generated_ = 0;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_RUNTIME_STOP_RULES_H_
