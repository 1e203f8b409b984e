// The official OpenAI SDK (npm `openai`, pinned in tests/server/openai/package-lock.json) against
// an in-process server on 127.0.0.1 (ephemeral ports), over HTTP: models.list, completions and
// chat completions, plain and streamed, and errors. The texts must equal what gRPC Generate
// returns for the same prompt, sampling and seed.
#include <cstdio>
#include <string>
#include <vector>

#include "engine/model/model.h"
#include "engine/runtime/request_defaults.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

using Json = nlohmann::json;

constexpr char kToken[] = "sdk-token";

// Runs the SDK script and returns its stdout.
std::string RunSdkClient(int http_port) {
  const std::string command = std::string(GHOST_NODE) + " " + GHOST_SOURCE_DIR +
                              "/tests/server/openai/sdk_client.cjs " + GHOST_OPENAI_SDK_DIR +
                              "/node_modules http://127.0.0.1:" + std::to_string(http_port) +
                              "/v1 " + kToken + " ghost-tiny";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buffer[4096];
  std::size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  EXPECT_EQ(pclose(pipe), 0) << "sdk_client.cjs failed; its stderr is in the test log";
  return out;
}

TEST(OpenAiSdkTest, OfficialClientGetsWhatGrpcGenerates) {
  server::ServerOptions options = TestServerOptions();
  options.auth_token = kToken;
  auto server = StartTestServer(options);
  ASSERT_NE(server, nullptr);
  const std::string output = RunSdkClient(server->http_port());
  ASSERT_FALSE(output.empty());
  const Json result = Json::parse(output);

  auto stub = ghost::v1::Inference::NewStub(ChannelTo(server->port()));
  // The completion: text prompt, temperature 0.9, seed 1234, 24 tokens (sdk_client.cjs).
  ghost::v1::GenerateRequest completion;
  completion.set_model("ghost-tiny");
  completion.set_text("Once upon a time");
  completion.mutable_sampling()->set_temperature(0.9f);
  completion.mutable_sampling()->set_seed(1234);
  completion.mutable_stopping()->set_max_new_tokens(24);
  const StreamResult grpc = CollectStream(*stub, completion, kToken);
  ASSERT_TRUE(grpc.status.ok()) << grpc.status.error_message();

  EXPECT_THAT(result["models"], ::testing::Contains("ghost-tiny"));
  EXPECT_EQ(result["completion"]["object"], "text_completion");
  EXPECT_EQ(result["completion"]["text"], grpc.text);
  EXPECT_EQ(result["completion"]["finish_reason"], grpc.finish_reason);
  EXPECT_EQ(result["completion"]["usage"]["completion_tokens"], grpc.usage.completion_tokens());
  EXPECT_EQ(result["completion_stream"]["text"], grpc.text);
  EXPECT_EQ(result["completion_stream"]["finish_reason"], grpc.finish_reason);
  EXPECT_EQ(result["completion_stream"]["usage"]["prompt_tokens"], grpc.usage.prompt_tokens());

  // The chat: the engine renders the conversation (ghost-tiny has no template of its own: the
  // ChatML fallback); gRPC gets the same prompt as token ids, with the same sampling and stops.
  auto model = Model::Load(std::string(GHOST_SOURCE_DIR) + "/models/ghost-tiny");
  ASSERT_TRUE(model.ok()) << model.status();
  const std::vector<ChatMessage> messages = {
      {.role = "system", .content = "You tell short stories."},
      {.role = "user", .content = "Tell me about a fox."}};
  auto rendered = RenderChatPrompt(messages, ChatTemplateOptions(), **model, RequestLimits());
  ASSERT_TRUE(rendered.ok()) << rendered.status();
  ghost::v1::GenerateRequest chat;
  chat.set_model("ghost-tiny");
  for (std::int32_t id : TokenizeChatPrompt(*rendered, **model)) {
    chat.mutable_token_ids()->add_ids(id);
  }
  chat.mutable_sampling()->set_temperature(0.8f);
  chat.mutable_sampling()->set_seed(99);
  chat.mutable_stopping()->set_max_new_tokens(32);
  chat.mutable_stopping()->add_stop("\n\n");
  chat.mutable_stopping()->add_stop("zz");
  const StreamResult grpc_chat = CollectStream(*stub, chat, kToken);
  ASSERT_TRUE(grpc_chat.status.ok()) << grpc_chat.status.error_message();
  EXPECT_EQ(result["chat"]["object"], "chat.completion");
  EXPECT_EQ(result["chat"]["role"], "assistant");
  EXPECT_EQ(result["chat"]["text"], grpc_chat.text);
  EXPECT_EQ(result["chat"]["finish_reason"], grpc_chat.finish_reason);
  EXPECT_EQ(result["chat"]["usage"]["prompt_tokens"], grpc_chat.usage.prompt_tokens());
  EXPECT_EQ(result["chat_stream"]["text"], grpc_chat.text);
  EXPECT_EQ(result["chat_stream"]["role"], "assistant");
  EXPECT_EQ(result["chat_stream"]["finish_reason"], grpc_chat.finish_reason);

  // Errors reach the SDK as its typed errors, with OpenAI's fields.
  EXPECT_EQ(result["unknown_model"]["status"], 404);
  EXPECT_EQ(result["unknown_model"]["code"], "model_not_found");
  EXPECT_EQ(result["unknown_model"]["name"], "NotFoundError");
  EXPECT_EQ(result["n_two"]["status"], 400);
  EXPECT_EQ(result["n_two"]["param"], "n");
  EXPECT_EQ(result["n_two"]["name"], "BadRequestError");
  EXPECT_EQ(result["wrong_key"]["status"], 401);
  EXPECT_EQ(result["wrong_key"]["name"], "AuthenticationError");
}

}  // namespace
}  // namespace ghost::testing
