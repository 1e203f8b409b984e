#include "engine/runtime/request_defaults.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/common/utf8.h"

namespace ghost {
namespace {

absl::StatusOr<std::vector<std::int32_t>> PromptTokens(const ClientGenerationRequest& request,
                                                       const Model& model,
                                                       const RequestLimits& limits) {
  if (const auto* text = std::get_if<std::string>(&request.prompt)) {
    if (text->empty()) return absl::InvalidArgumentError("the prompt text is empty");
    GHOST_RETURN_IF_ERROR(ValidatePromptText(*text, limits));
    return TokenizePromptText(*text, model);
  }
  if (const auto* ids = std::get_if<std::vector<std::int32_t>>(&request.prompt)) {
    if (ids->empty()) return absl::InvalidArgumentError("the prompt's token ids are empty");
    return *ids;
  }
  if (const auto* messages = std::get_if<std::vector<ChatMessage>>(&request.prompt)) {
    GHOST_ASSIGN_OR_RETURN(std::string rendered,
                           RenderChatPrompt(*messages, request.chat, model, limits));
    return TokenizeChatPrompt(rendered, model);
  }
  return absl::InvalidArgumentError("the prompt is empty: give text, token ids or messages");
}

SamplingOptions ResolveSampling(const ClientGenerationRequest::Sampling& requested,
                                const GenerationDefaults& defaults) {
  SamplingOptions sampling;
  if (requested.temperature.has_value()) {
    sampling.temperature = *requested.temperature;
  } else if (defaults.do_sample.has_value() && !*defaults.do_sample) {
    sampling.temperature = 0.0f;
  } else {
    sampling.temperature = defaults.temperature.value_or(1.0f);
  }
  sampling.top_p = requested.top_p.value_or(defaults.top_p.value_or(1.0f));
  sampling.top_k = requested.top_k.value_or(defaults.top_k.value_or(0));
  sampling.min_p = requested.min_p.value_or(defaults.min_p.value_or(0.0f));
  sampling.repetition_penalty =
      requested.repetition_penalty.value_or(defaults.repetition_penalty.value_or(1.0f));
  sampling.presence_penalty = requested.presence_penalty;
  sampling.frequency_penalty = requested.frequency_penalty;
  sampling.seed = requested.seed;
  return sampling;
}

StoppingOptions ResolveStopping(const ClientGenerationRequest::Stopping& requested,
                                const GenerationDefaults& defaults, int context,
                                int prompt_tokens) {
  StoppingOptions stopping;
  if (requested.max_new_tokens.has_value()) {
    stopping.max_new_tokens = *requested.max_new_tokens;
  } else {
    const int room = context - prompt_tokens;
    stopping.max_new_tokens =
        std::max(1, std::min(defaults.max_new_tokens.value_or(kDefaultMaxNewTokens), room));
    stopping.max_new_tokens_defaulted = true;
  }
  stopping.min_new_tokens = requested.min_new_tokens;
  stopping.stop = requested.stop;
  stopping.stop_token_ids = requested.stop_token_ids;
  stopping.ignore_eos = requested.ignore_eos;
  return stopping;
}

}  // namespace

absl::Status ValidatePromptText(std::string_view text, const RequestLimits& limits) {
  if (text.size() > limits.max_prompt_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("the prompt text is ", text.size(),
                                                   " bytes; at most ", limits.max_prompt_bytes,
                                                   " are accepted (max_prompt_bytes)"));
  }
  if (!IsValidUtf8(text)) return absl::InvalidArgumentError("the prompt text is not valid UTF-8");
  return absl::OkStatus();
}

std::vector<std::int32_t> TokenizePromptText(std::string_view text, const Model& model,
                                             bool add_special_tokens) {
  return model.tokenizer().Encode(text, /*parse_special=*/false, add_special_tokens);
}

absl::StatusOr<std::string> RenderChatPrompt(absl::Span<const ChatMessage> messages,
                                             const ChatTemplateOptions& options, const Model& model,
                                             const RequestLimits& limits) {
  // Bounded before rendering too: a template's output grows with its input.
  std::size_t bytes = 0;
  for (const ChatMessage& message : messages) {
    bytes += message.role.size() + message.content.size() + message.name.size() +
             message.tool_call_id.size() + message.tool_calls_json.size();
  }
  bytes += options.tools_json.size() + options.variables_json.size();
  if (bytes > limits.max_prompt_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("the messages are ", bytes, " bytes; at most ",
                                                   limits.max_prompt_bytes,
                                                   " are accepted (max_prompt_bytes)"));
  }
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    for (const std::string* field :
         {&m.role, &m.content, &m.name, &m.tool_call_id, &m.tool_calls_json}) {
      if (!IsValidUtf8(*field)) {
        return absl::InvalidArgumentError(absl::StrCat("message ", i, " is not valid UTF-8"));
      }
    }
  }
  if (!IsValidUtf8(options.tools_json) || !IsValidUtf8(options.variables_json)) {
    return absl::InvalidArgumentError("the tools or template variables are not valid UTF-8");
  }
  GHOST_ASSIGN_OR_RETURN(std::string rendered, model.chat_template().Render(messages, options));
  if (rendered.empty()) return absl::InvalidArgumentError("the chat template rendered no text");
  GHOST_RETURN_IF_ERROR(ValidatePromptText(rendered, limits));
  return rendered;
}

std::vector<std::int32_t> TokenizeChatPrompt(std::string_view rendered, const Model& model) {
  return model.tokenizer().Encode(rendered, /*parse_special=*/true, /*add_special_tokens=*/false);
}

absl::StatusOr<GenerationRequest> ResolveGenerationRequest(const ClientGenerationRequest& request,
                                                           const Model& model,
                                                           const RequestLimits& limits) {
  if (request.request_id.size() > kMaxRequestIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("request_id is ", request.request_id.size(),
                                                   " bytes; at most ", kMaxRequestIdBytes,
                                                   " are accepted"));
  }
  GHOST_ASSIGN_OR_RETURN(std::vector<std::int32_t> tokens, PromptTokens(request, model, limits));
  return ResolveWithDefaults(request, std::move(tokens), model.generation_defaults(),
                             model.config().max_position_embeddings);
}

GenerationRequest ResolveWithDefaults(const ClientGenerationRequest& request,
                                      std::vector<std::int32_t> prompt_tokens,
                                      const GenerationDefaults& defaults, int context) {
  GenerationRequest out;
  out.prompt_tokens = std::move(prompt_tokens);
  out.sampling = ResolveSampling(request.sampling, defaults);
  out.stopping =
      ResolveStopping(request.stopping, defaults, context,
                      static_cast<int>(std::min<std::size_t>(out.prompt_tokens.size(), INT32_MAX)));
  out.top_logprobs = request.top_logprobs;
  return out;
}

absl::Status ValidateForModel(const GenerationRequest& request, const ModelConfig& config) {
  return ValidateForModel(request, config, config.max_position_embeddings);
}

absl::Status ValidateForModel(const GenerationRequest& request, const ModelConfig& config,
                              int context_tokens) {
  if (absl::Status s = request.Validate(); !s.ok()) return s;
  // config.vocab_size, not the tokenizer's (which the loader checks is no larger): the model
  // may generate any id below it, and a client may send such ids back as a prompt.
  for (const std::int32_t token : request.prompt_tokens) {
    if (token < 0 || token >= config.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prompt token id ", token, " is outside the vocabulary [0, ", config.vocab_size, ")"));
    }
  }
  const int context = std::min(context_tokens, config.max_position_embeddings);
  // Where the KV budget, not the model, sets the limit, the message says so.
  const std::string limit =
      context < config.max_position_embeddings
          ? absl::StrCat("the ", context, " tokens this server's KV cache holds for the model ",
                         "(kv_cache_mib; the model's context is ", config.max_position_embeddings,
                         ")")
          : absl::StrCat("the model's context of ", context, " tokens");
  const std::int64_t prompt = static_cast<std::int64_t>(request.prompt_tokens.size());
  if (prompt > context) {
    return absl::InvalidArgumentError(absl::StrCat("prompt (", prompt, " tokens) exceeds ", limit));
  }
  // 64-bit, so that a huge max_new_tokens cannot overflow the sum.
  if (prompt + request.stopping.max_new_tokens > context) {
    return absl::InvalidArgumentError(
        absl::StrCat("prompt (", prompt, " tokens) + max_new_tokens (",
                     request.stopping.max_new_tokens, ") exceeds ", limit));
  }
  return absl::OkStatus();
}

}  // namespace ghost
