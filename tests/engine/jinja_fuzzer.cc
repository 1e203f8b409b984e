// libFuzzer target: the chat-template interpreter. An input is a template; it is parsed and,
// if it parses, rendered with a conversation that has a system prompt, tool calls and tools,
// under tight limits (so that every input runs in milliseconds). Besides crashes, leaks and
// sanitizer reports it checks the interpreter's promises: every error is INVALID_ARGUMENT and
// names a position ("line L, column C: "), and the output stays within max_output_bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/jinja/template.h"
#include "nlohmann/json.hpp"

namespace {

const ghost::jinja::Mapping& Variables() {
  static const ghost::jinja::Mapping* variables = [] {
    const nlohmann::ordered_json json = nlohmann::ordered_json::parse(R"({
      "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris? <think>x</think> caf\u00e9"},
        {"role": "assistant", "content": "",
         "tool_calls": [{"id": "c1", "type": "function",
                         "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "content": "{\"temp\": 18}", "tool_call_id": "c1"}],
      "tools": [{"type": "function", "function": {"name": "get_weather",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
      "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>",
      "enable_thinking": false})");
    return new ghost::jinja::Mapping(ghost::jinja::Value::FromJson(json).as_mapping());
  }();
  return *variables;
}

bool NamesAPosition(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument &&
         status.message().substr(0, 5) == "line ";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ghost::jinja::Template> parsed = ghost::jinja::Template::Parse(source);
  if (!parsed.ok()) {
    if (!NamesAPosition(parsed.status())) std::abort();
    return 0;
  }
  ghost::jinja::RenderLimits limits;
  limits.max_output_bytes = 1 << 16;
  limits.max_steps = 20000;
  limits.max_work_bytes = 1 << 22;
  const absl::StatusOr<std::string> text = parsed->Render(Variables(), limits);
  if (!text.ok() && !NamesAPosition(text.status())) std::abort();
  if (text.ok() && text->size() > limits.max_output_bytes) std::abort();
  return 0;
}
