#include "engine/tokenizer/chat_template.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using ::testing::HasSubstr;

const std::vector<ChatMessage> kConversation = {{.role = "system", .content = "be brief"},
                                                {.role = "user", .content = "hi"}};

TEST(ChatTemplateTest, AModelWithoutATemplateUsesChatMl) {
  const std::string dir = ghost::testing::MakeTempDir("chat_template_none");
  const ChatTemplate no_file = ChatTemplate::Load(dir);
  EXPECT_TRUE(no_file.is_fallback());
  ghost::testing::WriteFile(dir + "/tokenizer_config.json", R"({"bos_token": "<s>"})");
  const ChatTemplate no_template = ChatTemplate::Load(dir);
  EXPECT_TRUE(no_template.is_fallback());
  absl::StatusOr<std::string> text = no_template.Render(kConversation, {});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
            "<|im_start|>assistant\n");
  text = no_template.Render(kConversation, {.add_generation_prompt = false});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n");
}

TEST(ChatTemplateTest, ABrokenConfigFailsOnlyRendering) {
  for (const char* config :
       {"{", "[]", R"({"chat_template": 3})", R"({"chat_template": [{"name": "tool_use"}]})",
        R"({"chat_template": "x", "bos_token": 1})"}) {
    const ChatTemplate chat = ChatTemplate::FromTokenizerConfig(config, "tokenizer_config.json");
    EXPECT_FALSE(chat.is_fallback()) << config;
    EXPECT_EQ(chat.load_status().code(), absl::StatusCode::kInvalidArgument) << config;
    const absl::Status rendered = chat.Render(kConversation, {}).status();
    EXPECT_EQ(rendered, chat.load_status());
    EXPECT_THAT(rendered.message(), HasSubstr("the model's chat template cannot be used: "
                                              "tokenizer_config.json"));
  }
}

TEST(ChatTemplateTest, ConversationsAreChecked) {
  const ChatTemplate chat;
  EXPECT_EQ(chat.Render({}, {}).status().message(), "the conversation has no messages");
  EXPECT_EQ(chat.Render({{.role = "user"}, {.content = "x"}}, {}).status().message(),
            "message 1 has no role");
  const std::vector<ChatMessage> many(kMaxChatMessages + 1, {.role = "user"});
  EXPECT_THAT(chat.Render(many, {}).status().message(), HasSubstr("at most 4096 are accepted"));
}

std::string Config(const std::string& chat_template_json, const std::string& extra = "") {
  return R"({"chat_template": )" + chat_template_json + extra + "}";
}

TEST(ChatTemplateTest, TheModelsTemplateSeesMessagesTokensAndOptions) {
  const ChatTemplate chat = ChatTemplate::FromTokenizerConfig(
      Config(
          R"("{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %})"
          R"({% if add_generation_prompt %}>{% endif %}{{ eos_token }}{% if tools %}{{ tools | length }}{% endif %})"
          R"({{ extra }}")",
          R"(, "bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>")"),
      "tokenizer_config.json");
  ASSERT_TRUE(chat.load_status().ok()) << chat.load_status();
  EXPECT_FALSE(chat.is_fallback());
  absl::StatusOr<std::string> text = chat.Render(
      kConversation, {.tools_json = R"([{"a": 1}, {}])", .variables_json = R"({"extra": "!"})"});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "<s>[system:be brief][user:hi]></s>2!");
  text = chat.Render(kConversation, {.add_generation_prompt = false});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "<s>[system:be brief][user:hi]</s>");
}

TEST(ChatTemplateTest, TheNamedListFormUsesTheDefaultEntry) {
  const ChatTemplate chat = ChatTemplate::FromTokenizerConfig(
      Config(
          R"([{"name": "tool_use", "template": "tools"}, {"name": "default", "template": "d"}])"),
      "tokenizer_config.json");
  absl::StatusOr<std::string> text = chat.Render(kConversation, {});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "d");
}

TEST(ChatTemplateTest, TemplateErrorsNameTheConstructAndPosition) {
  const ChatTemplate unparsable = ChatTemplate::FromTokenizerConfig(
      Config(R"("{% for m in messages %}\n{% include 'x' %}{% endfor %}")"), "cfg.json");
  EXPECT_EQ(std::string(unparsable.load_status().message()),
            "the model's chat template cannot be used: cfg.json: chat_template: line 2, column 4: "
            "unsupported statement 'include'");
  EXPECT_EQ(unparsable.Render(kConversation, {}).status(), unparsable.load_status());

  const ChatTemplate raising = ChatTemplate::FromTokenizerConfig(
      Config(
          R"("{% if messages[0].role == 'system' %}{{ raise_exception('no system') }}{% endif %}")"),
      "cfg.json");
  ASSERT_TRUE(raising.load_status().ok());
  const absl::Status status = raising.Render(kConversation, {}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "the model's chat template failed: line 1, column 56: the template raised: no system");
}

TEST(ChatTemplateTest, MalformedRequestJsonIsRefused) {
  const ChatTemplate chat = ChatTemplate::FromTokenizerConfig(
      Config(R"("{{ messages | length }}{{ tools is defined }}")"), "cfg.json");
  EXPECT_EQ(chat.Render(kConversation, {.tools_json = "[1,"}).status().message(),
            "tools: invalid JSON");
  EXPECT_EQ(chat.Render(kConversation, {.tools_json = "{}"}).status().message(),
            "tools is not a JSON array");
  EXPECT_EQ(chat.Render(kConversation, {.variables_json = "[]"}).status().message(),
            "the template variables are not a JSON object");
  EXPECT_EQ(chat.Render({{.role = "assistant", .tool_calls_json = "{}"}}, {}).status().message(),
            "message 0's tool_calls is not a JSON array");
  EXPECT_EQ(chat.Render(kConversation, {.tools_json = std::string(100, '[')}).status().message(),
            "tools nests deeper than 64 levels");
  // The reserved names cannot be replaced through the variables.
  absl::StatusOr<std::string> text =
      chat.Render(kConversation, {.variables_json = R"({"messages": [], "tools": [1], "x": 1})"});
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "2false");
}

}  // namespace
}  // namespace ghost
