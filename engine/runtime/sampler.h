// Chooses each next token of one request from the model's logits. Owns the request's random
// generator, so the same seed gives the same tokens.
#ifndef GHOST_ENGINE_RUNTIME_SAMPLER_H_
#define GHOST_ENGINE_RUNTIME_SAMPLER_H_

#include <cstdint>
#include <random>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/types/span.h"
#include "engine/runtime/request.h"

namespace ghost {

class Sampler {
 public:
  // `options` must be valid. The prompt counts for the repetition penalty.
  Sampler(const SamplingOptions& options, absl::Span<const std::int32_t> prompt_tokens);

  // Picks a token from `logits` ([vocab]). Steps, in order: repetition penalty (HF: divides
  // positive logits and multiplies negative ones, for tokens of prompt and output), presence
  // and frequency penalties (OpenAI: over generated tokens), `suppressed` tokens removed,
  // temperature (0 = argmax), top-k, top-p, min-p, draw. When top_logprobs > 0 and `logprob`
  // is set, fills it from the log-softmax of the raw logits. Records the token for the
  // penalties.
  std::int32_t Sample(absl::Span<const float> logits, absl::Span<const std::int32_t> suppressed,
                      int top_logprobs, TokenLogprob* logprob);

 private:
  void ApplyPenalties(std::vector<float>& logits) const;
  std::int32_t Draw(const std::vector<float>& logits);
  double Uniform();  // [0, 1), the same sequence on every platform for one seed

  SamplingOptions options_;
  std::mt19937_64 rng_;
  absl::flat_hash_set<std::int32_t> seen_;                // prompt + output
  absl::flat_hash_map<std::int32_t, int> output_counts_;  // output only
  std::vector<float> work_;
  std::vector<std::int32_t> order_;
  std::vector<double> probs_;
};

// Natural-log softmax of `logits`, computed in double with the max subtracted.
std::vector<float> LogSoftmax(absl::Span<const float> logits);

}  // namespace ghost

#endif  // GHOST_ENGINE_RUNTIME_SAMPLER_H_
