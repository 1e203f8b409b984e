#include "engine/runtime/sequence.h"

#include <utility>

namespace ghost {

Sequence::Sequence(const Model& model, const GenerationRequest& request)
    : request_(request),
      tokens_(request.prompt_tokens),
      sampler_(request.sampling, request.prompt_tokens),
      stop_rules_(request.stopping, model.config().eos_token_ids),
      decoder_(model.tokenizer()) {
  tokens_.reserve(request.prompt_tokens.size() + request.stopping.max_new_tokens);
}

ForwardSequence Sequence::NextChunk(int count) const {
  const bool completes = count == num_pending();
  return ForwardSequence{absl::MakeConstSpan(tokens_).subspan(num_cached_, count), num_cached_,
                         &blocks_, completes ? LogitRows::kLast : LogitRows::kNone};
}

void Sequence::SetUsage(GenerationChunk& chunk) const {
  chunk.prompt_tokens = static_cast<int>(request_.prompt_tokens.size());
  chunk.completion_tokens = stop_rules_.generated_tokens();
}

GenerationChunk Sequence::Sample(absl::Span<const float> logits) {
  GenerationChunk chunk;
  TokenLogprob logprob;
  const std::vector<std::int32_t> suppressed = stop_rules_.SuppressedTokens();
  const std::int32_t token = sampler_.Sample(logits, suppressed, request_.top_logprobs, &logprob);
  chunk.token_ids.push_back(token);
  if (request_.top_logprobs > 0) chunk.logprobs.push_back(std::move(logprob));

  StopRules::Step step = stop_rules_.Append(token, decoder_.Append(token));
  chunk.text = std::move(step.text);
  if (step.finish_reason != FinishReason::kNone) {
    // A stop string discards everything after it, including undecoded bytes.
    if (!step.matched_stop_string) chunk.text += decoder_.Flush();
    chunk.finish_reason = step.finish_reason;
    SetUsage(chunk);
    return chunk;
  }
  tokens_.push_back(token);  // pending: the next step computes its keys and values
  return chunk;
}

GenerationChunk Sequence::Cancelled() {
  GenerationChunk chunk;
  chunk.text = stop_rules_.TakeHeldText() + decoder_.Flush();
  chunk.finish_reason = FinishReason::kCancelled;
  SetUsage(chunk);
  return chunk;
}

GenerationChunk Sequence::Failed(absl::Status error) const {
  GenerationChunk chunk;
  chunk.finish_reason = FinishReason::kError;
  chunk.error = std::move(error);
  SetUsage(chunk);
  return chunk;
}

}  // namespace ghost
