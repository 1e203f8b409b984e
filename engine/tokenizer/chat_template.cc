#include "engine/tokenizer/chat_template.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/file.h"
#include "engine/common/json.h"
#include "engine/common/status_macros.h"
#include "engine/jinja/template.h"

namespace ghost {

struct ChatTemplate::State {
  absl::Status load_status;
  std::optional<jinja::Template> parsed;  // the model's template; unset = the ChatML fallback
  std::string bos_token;
  std::string eos_token;
};

namespace {

// tokenizer_config.json writes special tokens as a string or as an AddedToken object.
absl::StatusOr<std::string> SpecialTokenText(const nlohmann::json& config, const char* key,
                                             const std::string& source_name) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::string();
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    const auto content = it->find("content");
    if (content != it->end() && content->is_string()) return content->get<std::string>();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(source_name, ": ", key, " is neither a string nor {\"content\": ...}"));
}

// The template text: a string, or the entry named "default" of the named-list form.
absl::StatusOr<std::optional<std::string>> TemplateSource(const nlohmann::json& config,
                                                          const std::string& source_name) {
  const auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) return std::optional<std::string>();
  if (it->is_string()) return std::optional<std::string>(it->get<std::string>());
  if (it->is_array()) {
    for (const nlohmann::json& entry : *it) {
      if (!entry.is_object()) break;
      const auto name = entry.find("name");
      const auto text = entry.find("template");
      if (name == entry.end() || text == entry.end() || !name->is_string() || !text->is_string()) {
        break;
      }
      if (*name == "default") return std::optional<std::string>(text->get<std::string>());
    }
    return absl::InvalidArgumentError(
        absl::StrCat(source_name,
                     ": chat_template is a list without an entry "
                     "{\"name\": \"default\", \"template\": \"...\"}"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(source_name, ": chat_template is neither a string nor a list of templates"));
}

absl::Status CheckMessages(absl::Span<const ChatMessage> messages) {
  if (messages.empty()) return absl::InvalidArgumentError("the conversation has no messages");
  if (messages.size() > kMaxChatMessages) {
    return absl::InvalidArgumentError(absl::StrCat("the conversation has ", messages.size(),
                                                   " messages; at most ", kMaxChatMessages,
                                                   " are accepted"));
  }
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].role.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("message ", i, " has no role"));
    }
  }
  return absl::OkStatus();
}

// Bounded before nlohmann parses it: Value::FromJson and the tojson filter recurse per level.
constexpr int kMaxJsonNesting = 64;

absl::Status CheckJsonNesting(std::string_view text, const std::string& what) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonNesting) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " nests deeper than ", kMaxJsonNesting, " levels"));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return absl::OkStatus();
}

// Members keep their order (a template's tojson writes them as the client sent them); a
// duplicate key keeps its last value, as JSON.parse and Python's json do.
absl::StatusOr<jinja::Value> ParseJsonValue(std::string_view text, const std::string& what) {
  GHOST_RETURN_IF_ERROR(CheckJsonNesting(text, what));
  nlohmann::ordered_json json =
      nlohmann::ordered_json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(what, ": invalid JSON"));
  return jinja::Value::FromJson(json);
}

// What the template sees: messages (role, content, then name, tool_call_id and tool_calls where
// given, in that order), add_generation_prompt, bos_token, eos_token, tools, and the request's
// extra variables.
absl::StatusOr<jinja::Mapping> TemplateVariables(absl::Span<const ChatMessage> messages,
                                                 const ChatTemplateOptions& options,
                                                 const std::string& bos, const std::string& eos) {
  jinja::Mapping variables;
  if (!options.variables_json.empty()) {
    GHOST_ASSIGN_OR_RETURN(jinja::Value extra,
                           ParseJsonValue(options.variables_json, "the template variables"));
    if (extra.kind() != jinja::Value::Kind::kMapping) {
      return absl::InvalidArgumentError("the template variables are not a JSON object");
    }
    for (const auto& [name, value] : extra.as_mapping().entries()) {
      const bool reserved = name == "messages" || name == "tools" ||
                            name == "add_generation_prompt" || name == "bos_token" ||
                            name == "eos_token";
      if (!reserved) variables.Set(name, value);
    }
  }
  std::vector<jinja::Value> list;
  list.reserve(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    jinja::Mapping message;
    message.Set("role", jinja::Value::String(m.role));
    message.Set("content", jinja::Value::String(m.content));
    if (!m.name.empty()) message.Set("name", jinja::Value::String(m.name));
    if (!m.tool_call_id.empty()) message.Set("tool_call_id", jinja::Value::String(m.tool_call_id));
    if (!m.tool_calls_json.empty()) {
      GHOST_ASSIGN_OR_RETURN(
          jinja::Value calls,
          ParseJsonValue(m.tool_calls_json, absl::StrCat("message ", i, "'s tool_calls")));
      if (!calls.is_list()) {
        return absl::InvalidArgumentError(
            absl::StrCat("message ", i, "'s tool_calls is not a JSON array"));
      }
      message.Set("tool_calls", std::move(calls));
    }
    list.push_back(jinja::Value::Map(std::move(message)));
  }
  variables.Set("messages", jinja::Value::List(std::move(list)));
  if (!options.tools_json.empty()) {
    GHOST_ASSIGN_OR_RETURN(jinja::Value tools, ParseJsonValue(options.tools_json, "tools"));
    if (!tools.is_list()) return absl::InvalidArgumentError("tools is not a JSON array");
    variables.Set("tools", std::move(tools));
  }
  variables.Set("add_generation_prompt", jinja::Value::Bool(options.add_generation_prompt));
  variables.Set("bos_token", jinja::Value::String(bos));
  variables.Set("eos_token", jinja::Value::String(eos));
  return variables;
}

std::string RenderChatMl(absl::Span<const ChatMessage> messages, bool add_generation_prompt) {
  std::string out;
  for (const ChatMessage& message : messages) {
    absl::StrAppend(&out, "<|im_start|>", message.role, "\n", message.content, "<|im_end|>\n");
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace

ChatTemplate::ChatTemplate() : state_(std::make_shared<const State>()) {}

ChatTemplate::ChatTemplate(std::shared_ptr<const State> state) : state_(std::move(state)) {}

ChatTemplate ChatTemplate::Load(const std::string& directory) {
  const std::string path = JoinPath(directory, "tokenizer_config.json");
  absl::StatusOr<std::string> contents = ReadFileToString(path);
  if (absl::IsNotFound(contents.status())) return ChatTemplate();
  if (!contents.ok()) {
    auto state = std::make_shared<State>();
    state->load_status = contents.status();
    return ChatTemplate(std::move(state));
  }
  return FromTokenizerConfig(*contents, path);
}

ChatTemplate ChatTemplate::FromTokenizerConfig(std::string_view json,
                                               const std::string& source_name) {
  auto state = std::make_shared<State>();
  auto fail = [&](absl::Status status) {
    state->load_status = absl::InvalidArgumentError(
        absl::StrCat("the model's chat template cannot be used: ", status.message()));
    return ChatTemplate(std::move(state));
  };
  absl::StatusOr<nlohmann::json> config = ParseJsonStrict(json, source_name);
  if (!config.ok()) return fail(config.status());
  if (!config->is_object()) {
    return fail(absl::InvalidArgumentError(absl::StrCat(source_name, ": not a JSON object")));
  }
  absl::StatusOr<std::optional<std::string>> source = TemplateSource(*config, source_name);
  if (!source.ok()) return fail(source.status());
  absl::StatusOr<std::string> bos = SpecialTokenText(*config, "bos_token", source_name);
  if (!bos.ok()) return fail(bos.status());
  absl::StatusOr<std::string> eos = SpecialTokenText(*config, "eos_token", source_name);
  if (!eos.ok()) return fail(eos.status());
  if (source->has_value()) {
    absl::StatusOr<jinja::Template> parsed = jinja::Template::Parse(**source);
    if (!parsed.ok()) {
      return fail(absl::InvalidArgumentError(
          absl::StrCat(source_name, ": chat_template: ", parsed.status().message())));
    }
    state->parsed = *std::move(parsed);
  }
  state->bos_token = *std::move(bos);
  state->eos_token = *std::move(eos);
  return ChatTemplate(std::move(state));
}

bool ChatTemplate::is_fallback() const { return state_->load_status.ok() && !state_->parsed; }

const absl::Status& ChatTemplate::load_status() const { return state_->load_status; }

absl::StatusOr<std::string> ChatTemplate::Render(absl::Span<const ChatMessage> messages,
                                                 const ChatTemplateOptions& options) const {
  if (!state_->load_status.ok()) return state_->load_status;
  if (absl::Status s = CheckMessages(messages); !s.ok()) return s;
  if (!state_->parsed) return RenderChatMl(messages, options.add_generation_prompt);
  GHOST_ASSIGN_OR_RETURN(
      jinja::Mapping variables,
      TemplateVariables(messages, options, state_->bos_token, state_->eos_token));
  absl::StatusOr<std::string> text = state_->parsed->Render(variables);
  if (!text.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the model's chat template failed: ", text.status().message()));
  }
  return text;
}

}  // namespace ghost
