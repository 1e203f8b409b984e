// OpenAI request bodies (/v1/completions, /v1/chat/completions) mapped to the engine's
// ClientGenerationRequest. Only the wire format is checked here (types, shapes, n == 1): values
// and defaults are the engine's (ResolveGenerationRequest, Executor::Enqueue). Unknown fields are
// ignored, as OpenAI does; null is the same as absent.
#ifndef GHOST_SERVER_HTTP_OPENAI_REQUEST_H_
#define GHOST_SERVER_HTTP_OPENAI_REQUEST_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/runtime/request_defaults.h"

namespace ghost::server::http {

enum class Endpoint { kCompletions, kChatCompletions };

struct OpenAiRequest {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string model;
  // The engine request; its top_logprobs is at least 1 whenever logprobs are asked for (the
  // engine reports a token's logprob only with its alternatives).
  ClientGenerationRequest generation;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // Logprobs asked for (completions: `logprobs` set, chat: `logprobs: true`), and how many
  // alternatives per token the response lists.
  bool logprobs = false;
  int top_logprobs = 0;
};

// Parses a request body of `endpoint`. INVALID_ARGUMENT (FieldError: the error's param names
// the field) for a body that is not a JSON object, a field of the wrong type or shape, a
// missing model, prompt or messages, and n other than 1.
[[nodiscard]] absl::StatusOr<OpenAiRequest> ParseOpenAiRequest(Endpoint endpoint,
                                                               std::string_view body);

}  // namespace ghost::server::http

#endif  // GHOST_SERVER_HTTP_OPENAI_REQUEST_H_
