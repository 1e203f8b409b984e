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

}  // namespace
}  // namespace ghost
