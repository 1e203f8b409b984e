// A model's chat template: turns a conversation (role/content messages, optional tool calls)
// into the prompt text the model was trained on, as Hugging Face's apply_chat_template does.
//
// The template is tokenizer_config.json's `chat_template`: a Jinja string, or the named-list
// form [{"name": ..., "template": ...}], of which the one named "default" is used. It sees
// `messages`, `add_generation_prompt`, `bos_token` / `eos_token` (tokenizer_config.json's, a
// string or an AddedToken-style {"content": ...}), `tools` when given, and any extra variables
// the request sets (e.g. Qwen3's `enable_thinking`).
//
// The fallback, for a model whose tokenizer_config.json has no chat template (or no
// tokenizer_config.json at all), is ChatML, the format transformers once used as its default:
//   <|im_start|>{role}\n{content}<|im_end|>\n   for each message, then, with
//   add_generation_prompt, <|im_start|>assistant\n
// Such a model was not trained on any chat format, so this is a convention, not a promise.
//
// The rendered text already holds the model's special tokens (BOS included, where the template
// writes it), so it is tokenized with special tokens parsed and without the tokenizer's
// post-processor (HF: apply_chat_template, then encode with add_special_tokens=False).
#ifndef GHOST_ENGINE_TOKENIZER_CHAT_TEMPLATE_H_
#define GHOST_ENGINE_TOKENIZER_CHAT_TEMPLATE_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ghost {

// One message of a conversation, in OpenAI's chat shape. Optional fields are empty when absent
// (the template then sees them undefined). Every field has an initializer so that designated
// initializers may name only some of them.
struct ChatMessage {
  std::string role = "";  // "system", "user", "assistant", "tool", ...
  std::string content = "";
  std::string name = "";          // optional: the author's name (OpenAI's `name`)
  std::string tool_call_id = "";  // optional: on a "tool" message, the call it answers
  // Optional: on an "assistant" message, the calls it made, as a JSON array in OpenAI's shape
  // ([{"id", "type": "function", "function": {"name", "arguments"}}]); the template sees it
  // as `message.tool_calls`, parsed.
  std::string tool_calls_json = "";
};

struct ChatTemplateOptions {
  // Ends the prompt with the header of an assistant turn, so that the model writes the reply.
  bool add_generation_prompt = true;
  // Optional: a JSON array of tool definitions (OpenAI's `tools`), seen as `tools`.
  std::string tools_json = "";
  // Optional: a JSON object whose members become template variables (vLLM's
  // chat_template_kwargs), e.g. {"enable_thinking": false}. They cannot replace `messages`,
  // `tools`, `add_generation_prompt`, `bos_token` or `eos_token`.
  std::string variables_json = "";
};

// Bounds on one rendering, so that no template or conversation can make the server do work out
// of proportion to the request.
inline constexpr std::size_t kMaxChatMessages = 4096;

class ChatTemplate {
 public:
  // Reads <directory>/tokenizer_config.json. Never fails: a missing file or a config with no
  // chat_template gives the fallback; a file or template that cannot be read or parsed gives a
  // template whose Render returns that error (the model still serves text and token prompts).
  static ChatTemplate Load(const std::string& directory);
  // The same from the file's contents; `source_name` names it in errors.
  static ChatTemplate FromTokenizerConfig(std::string_view json, const std::string& source_name);
  // The fallback (ChatML) with no BOS/EOS strings.
  ChatTemplate();

  // The prompt text for `messages`. INVALID_ARGUMENT naming the problem for an empty or
  // oversized conversation, a message without a role, malformed tools/variables/tool_calls
  // JSON, a template that raises (raise_exception) or uses a construct the interpreter does
  // not render (naming it and its position), or output over the interpreter's bounds; the
  // load error, if the model's template could not be loaded.
  [[nodiscard]] absl::StatusOr<std::string> Render(absl::Span<const ChatMessage> messages,
                                                   const ChatTemplateOptions& options) const;

  // True when the model has no chat template of its own and the ChatML fallback is used.
  bool is_fallback() const;
  // OK, or why the model's template cannot be used (Render returns it).
  const absl::Status& load_status() const;

 private:
  struct State;
  explicit ChatTemplate(std::shared_ptr<const State> state);
  std::shared_ptr<const State> state_;  // immutable; shared by copies
};

}  // namespace ghost

#endif  // GHOST_ENGINE_TOKENIZER_CHAT_TEMPLATE_H_
