#include "server/http/openai_request.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "nlohmann/json.hpp"
#include "server/http/api_error.h"

namespace ghost::server::http {
namespace {

using Json = nlohmann::json;

// The member `name` of `body`, or nullptr when it is absent or null.
const Json* Member(const Json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status WrongType(const std::string& name, const std::string& expected) {
  return FieldError(name, absl::StrCat("'", name, "' must be ", expected));
}

absl::StatusOr<std::optional<double>> Number(const Json& body, const char* name) {
  const Json* value = Member(body, name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number()) return WrongType(name, "a number");
  return value->get<double>();
}

absl::StatusOr<std::optional<std::int64_t>> Integer(const Json& body, const char* name) {
  const Json* value = Member(body, name);
  if (value == nullptr) return std::nullopt;
  if (value->is_number_unsigned()) {
    if (value->get<std::uint64_t>() > std::numeric_limits<std::int64_t>::max()) {
      return WrongType(name, "an integer in the 64-bit signed range");
    }
    return value->get<std::int64_t>();
  }
  if (!value->is_number_integer()) return WrongType(name, "an integer");
  return value->get<std::int64_t>();
}

// An integer field the engine holds as int: larger values are refused here, not wrapped.
absl::StatusOr<std::optional<int>> Int(const Json& body, const char* name) {
  GHOST_ASSIGN_OR_RETURN(std::optional<std::int64_t> value, Integer(body, name));
  if (!value) return std::nullopt;
  if (*value < std::numeric_limits<int>::min() || *value > std::numeric_limits<int>::max()) {
    return FieldError(name, absl::StrCat("'", name, "' is out of range: ", *value));
  }
  return static_cast<int>(*value);
}

absl::StatusOr<std::optional<bool>> Bool(const Json& body, const char* name) {
  const Json* value = Member(body, name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) return WrongType(name, "a boolean");
  return value->get<bool>();
}

absl::StatusOr<std::optional<std::string>> String(const Json& body, const char* name) {
  const Json* value = Member(body, name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) return WrongType(name, "a string");
  return value->get<std::string>();
}

absl::StatusOr<std::vector<std::int32_t>> TokenIds(const Json& array, const std::string& name) {
  std::vector<std::int32_t> ids;
  ids.reserve(array.size());
  for (const Json& id : array) {
    if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
        id.get<std::int64_t>() > std::numeric_limits<std::int32_t>::max()) {
      return WrongType(name, "a string, or an array of non-negative token ids");
    }
    ids.push_back(static_cast<std::int32_t>(id.get<std::int64_t>()));
  }
  return ids;
}

// Completions' prompt: a string, token ids, or a batch of one of either (n == 1 only).
absl::Status ParsePrompt(const Json& body, ClientGenerationRequest& out) {
  const Json* prompt = Member(body, "prompt");
  if (prompt == nullptr) return FieldError("prompt", "'prompt' is required");
  if (prompt->is_string()) {
    out.prompt = prompt->get<std::string>();
    return absl::OkStatus();
  }
  if (!prompt->is_array() || prompt->empty()) {
    return WrongType("prompt", "a string, an array of token ids, or a one-element array of either");
  }
  const Json& first = prompt->front();
  if (first.is_number()) {
    GHOST_ASSIGN_OR_RETURN(out.prompt, TokenIds(*prompt, "prompt"));
    return absl::OkStatus();
  }
  if (prompt->size() != 1) {
    return FieldError("prompt",
                      absl::StrCat("a batch of ", prompt->size(),
                                   " prompts is not supported: send one prompt per request"));
  }
  if (first.is_string()) {
    out.prompt = first.get<std::string>();
    return absl::OkStatus();
  }
  if (first.is_array() && !first.empty()) {
    GHOST_ASSIGN_OR_RETURN(out.prompt, TokenIds(first, "prompt"));
    return absl::OkStatus();
  }
  return WrongType("prompt", "a string, an array of token ids, or a one-element array of either");
}

// A message's content: a string, or an array of text parts (joined), or null (an assistant
// message that only calls tools).
absl::StatusOr<std::string> MessageContent(const Json& message, const std::string& field) {
  const Json* content = Member(message, "content");
  if (content == nullptr) return std::string();
  if (content->is_string()) return content->get<std::string>();
  if (!content->is_array()) return WrongType(field, "a string or an array of content parts");
  std::string text;
  for (const Json& part : *content) {
    const Json* type = part.is_object() ? Member(part, "type") : nullptr;
    const Json* part_text = part.is_object() ? Member(part, "text") : nullptr;
    if (type == nullptr || *type != "text" || part_text == nullptr || !part_text->is_string()) {
      return FieldError(field,
                        "only text content parts ({\"type\": \"text\", \"text\": ...}) "
                        "are supported");
    }
    text += part_text->get<std::string>();
  }
  return text;
}

// Chat's conversation and the template's inputs; the engine renders it (never this layer).
absl::Status ParseMessages(const Json& body, ClientGenerationRequest& out) {
  const Json* messages = Member(body, "messages");
  if (messages == nullptr) return FieldError("messages", "'messages' is required");
  if (!messages->is_array() || messages->empty()) {
    return WrongType("messages", "a non-empty array of messages");
  }
  std::vector<ChatMessage> conversation;
  conversation.reserve(messages->size());
  for (std::size_t i = 0; i < messages->size(); ++i) {
    const Json& message = (*messages)[i];
    const std::string field = absl::StrCat("messages[", i, "]");
    if (!message.is_object()) return WrongType(field, "an object");
    ChatMessage parsed;
    GHOST_ASSIGN_OR_RETURN(std::optional<std::string> role, String(message, "role"));
    if (!role || role->empty()) return FieldError(field + ".role", "every message needs a role");
    parsed.role = *std::move(role);
    GHOST_ASSIGN_OR_RETURN(parsed.content, MessageContent(message, field + ".content"));
    GHOST_ASSIGN_OR_RETURN(std::optional<std::string> name, String(message, "name"));
    parsed.name = name.value_or("");
    GHOST_ASSIGN_OR_RETURN(std::optional<std::string> call_id, String(message, "tool_call_id"));
    parsed.tool_call_id = call_id.value_or("");
    if (const Json* calls = Member(message, "tool_calls")) {
      if (!calls->is_array()) return WrongType(field + ".tool_calls", "an array");
      parsed.tool_calls_json = calls->dump();
    }
    conversation.push_back(std::move(parsed));
  }
  out.prompt = std::move(conversation);
  if (const Json* tools = Member(body, "tools")) {
    if (!tools->is_array()) return WrongType("tools", "an array");
    out.chat.tools_json = tools->dump();
  }
  // vLLM's extensions, for templates with switches (Qwen3's enable_thinking).
  if (const Json* variables = Member(body, "chat_template_kwargs")) {
    if (!variables->is_object()) return WrongType("chat_template_kwargs", "an object");
    out.chat.variables_json = variables->dump();
  }
  GHOST_ASSIGN_OR_RETURN(std::optional<bool> generation_prompt,
                         Bool(body, "add_generation_prompt"));
  if (generation_prompt) out.chat.add_generation_prompt = *generation_prompt;
  return absl::OkStatus();
}

absl::Status ParseStop(const Json& body, ClientGenerationRequest::Stopping& stopping) {
  const Json* stop = Member(body, "stop");
  if (stop == nullptr) return absl::OkStatus();
  if (stop->is_string()) {
    stopping.stop.push_back(stop->get<std::string>());
    return absl::OkStatus();
  }
  if (!stop->is_array()) return WrongType("stop", "a string or an array of strings");
  for (const Json& s : *stop) {
    if (!s.is_string()) return WrongType("stop", "a string or an array of strings");
    stopping.stop.push_back(s.get<std::string>());
  }
  return absl::OkStatus();
}

// The fields both endpoints share. vLLM's extensions (top_k, min_p, repetition_penalty,
// min_tokens, ignore_eos, stop_token_ids) are taken too: clients written for it send them.
absl::Status ParseCommon(const Json& body, OpenAiRequest& out) {
  GHOST_ASSIGN_OR_RETURN(std::optional<std::string> model, String(body, "model"));
  if (!model || model->empty()) return FieldError("model", "'model' is required");
  out.model = *std::move(model);

  GHOST_ASSIGN_OR_RETURN(std::optional<std::int64_t> n, Integer(body, "n"));
  if (n && *n != 1) {
    return FieldError("n", absl::StrCat("only n=1 is supported (one choice per request); got ", *n,
                                        ": send separate requests, with different seeds"));
  }

  ClientGenerationRequest::Sampling& sampling = out.generation.sampling;
  GHOST_ASSIGN_OR_RETURN(std::optional<double> temperature, Number(body, "temperature"));
  if (temperature) sampling.temperature = static_cast<float>(*temperature);
  GHOST_ASSIGN_OR_RETURN(std::optional<double> top_p, Number(body, "top_p"));
  if (top_p) sampling.top_p = static_cast<float>(*top_p);
  GHOST_ASSIGN_OR_RETURN(std::optional<int> top_k, Int(body, "top_k"));
  if (top_k) sampling.top_k = *top_k;
  GHOST_ASSIGN_OR_RETURN(std::optional<double> min_p, Number(body, "min_p"));
  if (min_p) sampling.min_p = static_cast<float>(*min_p);
  GHOST_ASSIGN_OR_RETURN(std::optional<double> repetition, Number(body, "repetition_penalty"));
  if (repetition) sampling.repetition_penalty = static_cast<float>(*repetition);
  GHOST_ASSIGN_OR_RETURN(std::optional<double> presence, Number(body, "presence_penalty"));
  if (presence) sampling.presence_penalty = static_cast<float>(*presence);
  GHOST_ASSIGN_OR_RETURN(std::optional<double> frequency, Number(body, "frequency_penalty"));
  if (frequency) sampling.frequency_penalty = static_cast<float>(*frequency);
  // OpenAI's seed is a signed 64-bit integer; every value names one distinct engine seed.
  GHOST_ASSIGN_OR_RETURN(std::optional<std::int64_t> seed, Integer(body, "seed"));
  if (seed) sampling.seed = static_cast<std::uint64_t>(*seed);

  ClientGenerationRequest::Stopping& stopping = out.generation.stopping;
  // max_completion_tokens is the newer name (chat); where both are sent it wins.
  GHOST_ASSIGN_OR_RETURN(std::optional<int> max_tokens, Int(body, "max_tokens"));
  GHOST_ASSIGN_OR_RETURN(std::optional<int> max_completion, Int(body, "max_completion_tokens"));
  if (max_completion) {
    stopping.max_new_tokens = *max_completion;
  } else if (max_tokens) {
    stopping.max_new_tokens = *max_tokens;
  }
  GHOST_ASSIGN_OR_RETURN(std::optional<int> min_tokens, Int(body, "min_tokens"));
  if (min_tokens) stopping.min_new_tokens = *min_tokens;
  GHOST_ASSIGN_OR_RETURN(std::optional<bool> ignore_eos, Bool(body, "ignore_eos"));
  if (ignore_eos) stopping.ignore_eos = *ignore_eos;
  GHOST_RETURN_IF_ERROR(ParseStop(body, stopping));
  if (const Json* ids = Member(body, "stop_token_ids")) {
    if (!ids->is_array()) return WrongType("stop_token_ids", "an array of token ids");
    for (const Json& id : *ids) {
      if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
          id.get<std::int64_t>() > std::numeric_limits<std::int32_t>::max()) {
        return WrongType("stop_token_ids", "an array of non-negative token ids");
      }
      stopping.stop_token_ids.push_back(static_cast<std::int32_t>(id.get<std::int64_t>()));
    }
  }

  GHOST_ASSIGN_OR_RETURN(std::optional<bool> stream, Bool(body, "stream"));
  out.stream = stream.value_or(false);
  if (const Json* options = Member(body, "stream_options")) {
    if (!options->is_object()) return WrongType("stream_options", "an object");
    const auto include = options->find("include_usage");
    if (include != options->end() && !include->is_null()) {
      if (!include->is_boolean()) return WrongType("stream_options.include_usage", "a boolean");
      out.include_usage = include->get<bool>();
    }
  }
  GHOST_ASSIGN_OR_RETURN(std::optional<std::string> user, String(body, "user"));
  (void)user;  // accepted for compatibility; the server keeps no per-user state
  return absl::OkStatus();
}

absl::Status ParseLogprobs(const Json& body, OpenAiRequest& out) {
  if (out.endpoint == Endpoint::kCompletions) {
    // Legacy completions: `logprobs` is the number of alternatives (0: the chosen token only).
    GHOST_ASSIGN_OR_RETURN(std::optional<int> logprobs, Int(body, "logprobs"));
    if (logprobs) {
      out.logprobs = true;
      out.top_logprobs = *logprobs;
    }
  } else {
    GHOST_ASSIGN_OR_RETURN(std::optional<bool> logprobs, Bool(body, "logprobs"));
    GHOST_ASSIGN_OR_RETURN(std::optional<int> top, Int(body, "top_logprobs"));
    out.logprobs = logprobs.value_or(false);
    if (top && !out.logprobs) {
      return FieldError("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    }
    out.top_logprobs = top.value_or(0);
  }
  // The engine range-checks the count; a negative one is passed on for it to refuse.
  if (out.logprobs) out.generation.top_logprobs = out.top_logprobs == 0 ? 1 : out.top_logprobs;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OpenAiRequest> ParseOpenAiRequest(Endpoint endpoint, std::string_view body) {
  const Json json = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError("the request body is not valid JSON");
  }
  if (!json.is_object())
    return absl::InvalidArgumentError("the request body must be a JSON object");
  OpenAiRequest out;
  out.endpoint = endpoint;
  GHOST_RETURN_IF_ERROR(ParseCommon(json, out));
  GHOST_RETURN_IF_ERROR(ParseLogprobs(json, out));
  if (endpoint == Endpoint::kCompletions) {
    GHOST_RETURN_IF_ERROR(ParsePrompt(json, out.generation));
  } else {
    GHOST_RETURN_IF_ERROR(ParseMessages(json, out.generation));
  }
  return out;
}

}  // namespace ghost::server::http
