// A generation request as a client sent it, and its resolution against a model's defaults: the
// one place where unset fields get their values, for every front end (gRPC, HTTP). A front end
// fills a ClientGenerationRequest from its wire format and nothing else, resolves it here and
// hands the result to Executor::Enqueue, which validates it (ValidateForModel).
#ifndef GHOST_ENGINE_RUNTIME_REQUEST_DEFAULTS_H_
#define GHOST_ENGINE_RUNTIME_REQUEST_DEFAULTS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/model/model.h"
#include "engine/runtime/request.h"
#include "engine/tokenizer/chat_template.h"

namespace ghost {

// The engine's defaults where neither the client nor generation_config.json sets a value.
inline constexpr int kDefaultMaxNewTokens = 128;

// Bounds on the free-form fields a client sends, so that no field can make the server do (or
// send back) work out of proportion to the request. Fixed ones are engine rules; stop strings
// are bounded in StoppingOptions::Validate (count and length).
inline constexpr std::size_t kMaxRequestIdBytes = 256;
inline constexpr std::size_t kDefaultMaxPromptBytes = 1 << 20;

// Bounds an operator may set (ghostserve --max_prompt_bytes).
struct RequestLimits {
  // Prompt text, in bytes, checked before it is tokenized (token-id prompts are bounded by the
  // model's context).
  std::size_t max_prompt_bytes = kDefaultMaxPromptBytes;
};

// Fields are optional where the model's generation_config.json may supply a default; the others
// default to the engine's value (0, false, empty), which is also what "unset" means for them.
struct ClientGenerationRequest {
  // Chosen by the client to recognise its responses; a front end echoes it once, in the first
  // response, never per chunk. At most kMaxRequestIdBytes.
  std::string request_id;

  // The prompt: text (tokenized with the model's tokenizer, its special tokens added), token
  // ids (taken as they are) or a conversation (rendered with the model's chat template and
  // `chat`, then tokenized as RenderChatPrompt says). None is an error.
  std::variant<std::monostate, std::string, std::vector<std::int32_t>, std::vector<ChatMessage>>
      prompt;
  // How a conversation is rendered; ignored for the other prompt kinds.
  ChatTemplateOptions chat;

  struct Sampling {
    // Unset: generation_config's temperature, 0 (greedy) when it sets do_sample false, else 1.
    std::optional<float> temperature;
    std::optional<float> top_p;               // unset: generation_config's, else 1
    std::optional<int> top_k;                 // unset: generation_config's, else 0 (disabled)
    std::optional<float> min_p;               // unset: generation_config's, else 0
    std::optional<float> repetition_penalty;  // unset: generation_config's, else 1
    float presence_penalty = 0.0f;
    float frequency_penalty = 0.0f;
    std::optional<std::uint64_t> seed;  // unset: a different draw every time
  } sampling;

  struct Stopping {
    // Unset: generation_config's max_new_tokens, else kDefaultMaxNewTokens, shortened to the
    // room the prompt leaves in the context (at least 1, so that a prompt that fills the context
    // gets the executor's clear error rather than one about max_new_tokens). Set: as given,
    // never shortened; one that does not fit is refused.
    std::optional<int> max_new_tokens;
    int min_new_tokens = 0;
    std::vector<std::string> stop;
    std::vector<std::int32_t> stop_token_ids;
    bool ignore_eos = false;
  } stopping;

  int top_logprobs = 0;  // alternatives per generated token; 0 = no logprobs
};

// Checks the request's free-form fields against `limits` and kMaxRequestIdBytes, renders a
// conversation, tokenizes the prompt and fills every unset field from the model's
// generation_config.json or the engine's defaults. INVALID_ARGUMENT, naming the field, for a
// request_id or prompt text over its bound and for a prompt that is missing, empty or not valid
// UTF-8; RenderChatPrompt's errors for a conversation. Values are not range-checked here:
// Executor::Enqueue validates the result (ValidateForModel), once, whoever built it.
[[nodiscard]] absl::StatusOr<GenerationRequest> ResolveGenerationRequest(
    const ClientGenerationRequest& request, const Model& model,
    const RequestLimits& limits = RequestLimits());

// The part of ResolveGenerationRequest after the prompt has become `prompt_tokens`: every unset
// sampling and stopping field from `defaults` (an unset max_new_tokens shortened to the room
// `context` leaves). No checks: the bounds are ResolveGenerationRequest's, the ranges
// ValidateForModel's. Exposed for the request fuzzer, which has ids but no tokenizer.
[[nodiscard]] GenerationRequest ResolveWithDefaults(const ClientGenerationRequest& request,
                                                    std::vector<std::int32_t> prompt_tokens,
                                                    const GenerationDefaults& defaults,
                                                    int context);

// INVALID_ARGUMENT when prompt text is longer than limits.max_prompt_bytes or not valid UTF-8.
[[nodiscard]] absl::Status ValidatePromptText(std::string_view text, const RequestLimits& limits);

// The ids Generate feeds the model for prompt `text`: the model's tokenizer, special-token
// strings in the text taken literally (a client cannot forge "</s>"), and with
// add_special_tokens the tokenizer's post-processor (BOS/EOS, as the model was trained with).
// Every front end's tokenize endpoint uses this, so that it agrees with Generate.
[[nodiscard]] std::vector<std::int32_t> TokenizePromptText(std::string_view text,
                                                           const Model& model,
                                                           bool add_special_tokens = true);

// The text a conversation becomes: the model's chat template (chat_template.h) applied to
// `messages`, checked as prompt text is (ValidatePromptText). INVALID_ARGUMENT for what
// ChatTemplate::Render refuses and for rendered text over limits.max_prompt_bytes.
[[nodiscard]] absl::StatusOr<std::string> RenderChatPrompt(absl::Span<const ChatMessage> messages,
                                                           const ChatTemplateOptions& options,
                                                           const Model& model,
                                                           const RequestLimits& limits);

// The ids Generate feeds the model for a rendered conversation: special-token strings in it are
// the special tokens (the template wrote them), and no BOS/EOS is added (the template writes
// BOS itself where the model wants one), as HF's apply_chat_template(tokenize=True) does. A
// client's message content is not escaped, so special-token strings in it count too, as in HF.
[[nodiscard]] std::vector<std::int32_t> TokenizeChatPrompt(std::string_view rendered,
                                                           const Model& model);

// GenerationRequest::Validate(), then against the model: every prompt token id in
// [0, config.vocab_size) (the rows of the embedding table, and the ids the model itself can
// generate), the prompt and prompt + max_new_tokens within the context: the model's, or
// `context_tokens` where smaller (what an executor's KV pool holds; the message then names the
// budget). INVALID_ARGUMENT with the field, the value and the allowed range.
[[nodiscard]] absl::Status ValidateForModel(const GenerationRequest& request,
                                            const ModelConfig& config);
[[nodiscard]] absl::Status ValidateForModel(const GenerationRequest& request,
                                            const ModelConfig& config, int context_tokens);

}  // namespace ghost

#endif  // GHOST_ENGINE_RUNTIME_REQUEST_DEFAULTS_H_
