// OpenAI response bodies and Server-Sent Events for one request, in the shapes OpenAI's API
// returns: text_completion / chat.completion objects, text_completion / chat.completion.chunk
// stream events (chat: a first delta with the role, content deltas, an empty delta with the
// finish_reason), the usage-only event of stream_options.include_usage, and logprobs in each
// endpoint's format.
#ifndef GHOST_SERVER_HTTP_OPENAI_RESPONSE_H_
#define GHOST_SERVER_HTTP_OPENAI_RESPONSE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/runtime/request.h"
#include "engine/tokenizer/tokenizer.h"
#include "server/http/openai_request.h"

namespace ghost::server::http {

// "cmpl-" or "chatcmpl-" and 24 random hex digits.
std::string NewResponseId(Endpoint endpoint);

// OpenAI's finish_reason for an engine's: "stop" (EOS, a stop string or stop token) or
// "length". Only for kStop and kLength.
const char* OpenAiFinishReason(FinishReason reason);

class ResponseFormatter {
 public:
  // `tokenizer` names the tokens of logprobs; it must outlive the formatter.
  ResponseFormatter(const OpenAiRequest& request, std::string model, const Tokenizer& tokenizer);
  ~ResponseFormatter();

  // Streaming: the `data: ...\n\n` events to send for `chunk` (none, one or several; the
  // final chunk's include its text, the finish_reason and, when asked for, the usage, then
  // "data: [DONE]"). Chat's first call also sends the role delta. Not for kError or kCancelled
  // final chunks: the caller sends ErrorEvent instead.
  std::string Events(const GenerationChunk& chunk);

  // Not streaming: accumulates `chunk`; the final one's numbers go into Body().
  void Append(const GenerationChunk& chunk);
  // The whole response object, once Append has seen the final chunk.
  std::string Body() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// A stream's error, sent as an event after the stream has begun (the status line is gone).
std::string ErrorEvent(const std::string& error_body);

}  // namespace ghost::server::http

#endif  // GHOST_SERVER_HTTP_OPENAI_RESPONSE_H_
