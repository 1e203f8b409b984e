// What a caller hands the engine and what it gets back, independent of gRPC.
#ifndef GHOST_ENGINE_RUNTIME_REQUEST_H_
#define GHOST_ENGINE_RUNTIME_REQUEST_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace ghost {

using RequestId = std::uint64_t;

// Fully resolved sampling parameters (ResolveGenerationRequest in request_defaults.h applies
// the model's generation config). temperature == 0 means greedy.
struct SamplingOptions {
  float temperature = 1.0f;
  float top_p = 1.0f;
  int top_k = 0;  // 0 = disabled
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::optional<std::uint64_t> seed;

  // INVALID_ARGUMENT naming the field and the allowed range.
  absl::Status Validate() const;
};

struct StoppingOptions {
  int max_new_tokens = 128;
  // Set by ResolveGenerationRequest when max_new_tokens is a default, not the client's value:
  // the executor may shorten it to the room its KV pool leaves (Executor::Enqueue).
  bool max_new_tokens_defaulted = false;
  int min_new_tokens = 0;
  // Stop strings, not included in the output: at most 16, each 1 to 256 bytes of UTF-8.
  std::vector<std::string> stop;
  std::vector<std::int32_t> stop_token_ids;  // at most 256
  bool ignore_eos = false;

  absl::Status Validate() const;
};

struct GenerationRequest {
  std::vector<std::int32_t> prompt_tokens;
  SamplingOptions sampling;
  StoppingOptions stopping;
  int top_logprobs = 0;  // alternatives per generated token; 0 = no logprobs at all

  absl::Status Validate() const;
};

enum class FinishReason { kNone, kStop, kLength, kCancelled, kError };
// "stop", "length", "cancelled", "error"; "" for kNone.
const char* FinishReasonName(FinishReason reason);

struct TokenLogprob {
  std::int32_t token_id = 0;
  float logprob = 0.0f;                             // natural log, from the unfiltered distribution
  std::vector<std::pair<std::int32_t, float>> top;  // (token id, logprob), best first
};

// One streamed piece of a request's output. The final chunk has finish_reason != kNone.
struct GenerationChunk {
  std::vector<std::int32_t> token_ids;
  std::string text;  // whole UTF-8 characters only
  std::vector<TokenLogprob> logprobs;
  FinishReason finish_reason = FinishReason::kNone;
  absl::Status error;  // set when finish_reason == kError
  int prompt_tokens = 0;
  int completion_tokens = 0;
  // On the request's first chunk only: the time from Enqueue until the scheduler first
  // admitted it into the running batch (until its cancellation if it never ran).
  std::optional<absl::Duration> queue_time;

  bool is_final() const { return finish_reason != FinishReason::kNone; }
};

// Receives a request's chunks, in order, on the engine's scheduler thread. Must not block.
// Exactly one chunk with is_final() is delivered, last, for every enqueued request.
using ChunkSink = std::function<void(GenerationChunk)>;

}  // namespace ghost

#endif  // GHOST_ENGINE_RUNTIME_REQUEST_H_
