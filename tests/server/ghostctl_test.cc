// The ghostctl binary against the in-process server: what a person sees on a terminal.
#include <string>

#include "gtest/gtest.h"
#include "tests/run_command.h"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

// With --logprobs the text stays in one piece on a terminal (stdout and stderr together): the
// logprob lines come after it, one per token, not between its chunks.
TEST(GhostctlTest, LogprobsFollowTheTextInsteadOfSplittingIt) {
  auto server = StartTestServer(TestServerOptions());
  ASSERT_NE(server, nullptr);
  const std::string prompt = "Logprobs";
  ghost::v1::GenerateRequest request;
  request.set_text(prompt);
  request.mutable_sampling()->set_temperature(0);
  request.mutable_stopping()->set_max_new_tokens(12);
  auto stub = ghost::v1::Inference::NewStub(ChannelTo(server->port()));
  const StreamResult expected = CollectStream(*stub, request);
  ASSERT_TRUE(expected.status.ok()) << expected.status.error_message();

  const std::string ghostctl = std::string(GHOST_BINARY_DIR) + "/clients/ghostctl/ghostctl";
  std::string output;
  ASSERT_EQ(RunCommand(ghostctl + " generate --address 127.0.0.1:" +
                           std::to_string(server->port()) + " --prompt " + prompt +
                           " --temperature 0 --max_new_tokens 12 --logprobs 2 2>&1",
                       output),
            0)
      << output;
  const std::string text = prompt + expected.text + "\n";
  ASSERT_EQ(output.substr(0, text.size()), text) << output;
  std::size_t lines = 0;
  for (std::size_t at = text.size(); at < output.size(); at = output.find('\n', at) + 1) {
    if (output.compare(at, 7, "[token ") == 0) ++lines;
  }
  EXPECT_EQ(lines, expected.token_ids.size()) << output;
}

}  // namespace
}  // namespace ghost::testing
