// One request's generation state, kept across preemption: its tokens so far (prompt +
// generated), how many of them have keys and values in the KV cache, its block table, and its
// sampler, stop rules and text decoder. Runs on the scheduler thread only.
#ifndef GHOST_ENGINE_RUNTIME_SEQUENCE_H_
#define GHOST_ENGINE_RUNTIME_SEQUENCE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "engine/backend/kv_cache.h"
#include "engine/model/model.h"
#include "engine/runtime/request.h"
#include "engine/runtime/sampler.h"
#include "engine/runtime/stop_rules.h"

namespace ghost {

class Sequence {
 public:
  // `request` must be valid and fit the model's context; both must outlive the sequence.
  Sequence(const Model& model, const GenerationRequest& request);

  // Prompt + generated tokens (the last sampled one included).
  absl::Span<const std::int32_t> tokens() const { return tokens_; }
  int num_tokens() const { return static_cast<int>(tokens_.size()); }
  // Tokens still to run through the model: the prompt (after a preemption: prompt + generated)
  // while prefilling, the last sampled token while decoding. Sample() needs none pending.
  int num_pending() const { return num_tokens() - num_cached_; }
  KvBlockTable& blocks() { return blocks_; }

  // The next `count` (<= num_pending) tokens as a forward entry; it asks for the last row's
  // logits when the chunk completes the pending tokens.
  ForwardSequence NextChunk(int count) const;
  // The chunk's `count` tokens are now in the cache.
  void Advance(int count) { num_cached_ += count; }
  // The cache was taken away (its blocks already freed): everything is pending again. The
  // stream is unaffected: nothing is re-sampled or re-sent.
  void Evict() { num_cached_ = 0; }

  // Samples the next token from `logits` ([vocab]) and returns its chunk; the chunk is final
  // (finish_reason set, usage filled) when generation ends.
  GenerationChunk Sample(absl::Span<const float> logits);
  // The final chunk of a request stopped from outside: held-back text and usage.
  GenerationChunk Cancelled();
  // The final chunk of a request that failed with `error`.
  GenerationChunk Failed(absl::Status error) const;

 private:
  void SetUsage(GenerationChunk& chunk) const;

  const GenerationRequest& request_;
  std::vector<std::int32_t> tokens_;
  int num_cached_ = 0;
  KvBlockTable blocks_;
  Sampler sampler_;
  StopRules stop_rules_;
  StreamDecoder decoder_;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_RUNTIME_SEQUENCE_H_
