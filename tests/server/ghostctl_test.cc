// ghostctl's listings and errors against a real server (issue 16): `list` columns line up
// whatever the names' lengths, `jobs` names every job's models in every state, and cancelling a
// finished job is reported as the error it is; `generate --logprobs` keeps the text in one piece;
// `eval` prints the server's bits per byte for a file and says what went wrong when it cannot.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "ghost/v1/models.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/run_command.h"
#include "tests/server/compression_client.h"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A loopback port nothing listens on: one the kernel gave a socket of ours, now closed.
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  close(fd);
  return ntohs(address.sin_port);
}

class GhostctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = FreshTempDir("ghostctl_models");
    fs::copy(std::string(GHOST_SOURCE_DIR) + "/models/ghost-tiny", root_ + "/ghost-tiny",
             fs::copy_options::recursive);
    server::ServerOptions options = TestServerOptions();
    options.model_roots = {root_};
    server_ = StartTestServer(options);
    ASSERT_NE(server_, nullptr);
    channel_ = ChannelTo(server_->port());
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(root_);
  }

  // ghostctl's standard output as lines; `exit_code` receives pclose's status.
  std::vector<std::string> Ghostctl(const std::string& args, int* exit_code = nullptr) {
    std::string output;
    const int code =
        RunCommand(std::string(GHOST_BINARY_DIR) + "/clients/ghostctl/ghostctl" +
                       " --address=127.0.0.1:" + std::to_string(server_->port()) + " " + args,
                   output);
    if (exit_code != nullptr) {
      *exit_code = code;
    } else {
      EXPECT_EQ(code, 0) << args << ":\n" << output;
    }
    return absl::StrSplit(output, '\n', absl::SkipEmpty());
  }

  std::string root_;
  std::unique_ptr<server::GhostServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(GhostctlTest, ListColumnsLineUpWhateverTheNamesLength) {
  const std::string long_name = "a-model-whose-name-is-longer-than-any-fixed-column";
  fs::copy(root_ + "/ghost-tiny", root_ + "/copy", fs::copy_options::recursive);
  ghost::v1::ImportModelRequest import;
  import.set_name(long_name);
  import.set_path("copy");
  ghost::v1::Model model;
  auto models = ghost::v1::Models::NewStub(channel_);
  ASSERT_TRUE(models->ImportModel(ContextWithToken("").get(), import, &model).ok());

  const std::vector<std::string> lines = Ghostctl("list");
  ASSERT_EQ(lines.size(), 3u);
  const std::string& header = lines[0];
  // Where a column's cell starts (left-aligned) or ends (right-aligned) in every line.
  const auto starts = [&](const std::string& title) { return header.find(title); };
  const auto ends = [&](const std::string& title) { return header.find(title) + title.size(); };
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string& row = lines[i];
    SCOPED_TRACE(row);
    EXPECT_TRUE(row.compare(starts("STATE"), 9, "AVAILABLE") == 0 ||
                row.compare(starts("STATE"), 5, "READY") == 0);
    EXPECT_EQ(row.compare(starts("ARCHITECTURE"), 16, "LlamaForCausalLM"), 0);
    EXPECT_EQ(row.compare(starts("DTYPE"), 4, "bf16"), 0);
    // Right-aligned: the last digit under the title's last letter.
    EXPECT_EQ(row.compare(ends("CONTEXT") - 3, 3, "512"), 0);
    EXPECT_TRUE(row.size() == ends("CONTEXT") || row[ends("CONTEXT")] == ' ');
    EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(row[ends("PARAMS") - 1])));
    EXPECT_EQ(row[ends("PARAMS")], ' ');
  }
}

TEST_F(GhostctlTest, JobsNameTheModelsAndCancellingAFinishedJobFails) {
  CompressionClient client(channel_);
  std::vector<std::string> names;
  for (const char* output : {"out-a", "out-b"}) {
    google::longrunning::Operation operation;
    ASSERT_TRUE(client.Compress(CompressRequestFor("ghost-tiny", output), &operation).ok());
    names.push_back(operation.name());
  }
  for (const std::string& name : names) {
    ASSERT_TRUE(client.Cancel(name).ok());
    ASSERT_TRUE(client.AwaitDone(name).done());
  }

  const std::vector<std::string> lines = Ghostctl("jobs");
  ASSERT_EQ(lines.size(), 3u);
  const std::size_t model_column = lines[0].find("MODEL");
  ASSERT_NE(model_column, std::string::npos);
  EXPECT_EQ(lines[1].find("ghost-tiny -> out-a"), model_column) << lines[1];
  EXPECT_EQ(lines[2].find("ghost-tiny -> out-b"), model_column) << lines[2];
  EXPECT_THAT(lines[1], HasSubstr("cancelled"));

  // AIP-151: a finished operation cannot be cancelled; ghostctl says so and exits non-zero.
  int exit_code = 0;
  std::string printed;
  exit_code = RunCommand(std::string(GHOST_BINARY_DIR) + "/clients/ghostctl/ghostctl" +
                             " --address=127.0.0.1:" + std::to_string(server_->port()) +
                             " cancel " + names[0] + " 2>&1",
                         printed);
  EXPECT_NE(exit_code, 0);
  EXPECT_THAT(printed, HasSubstr("FAILED_PRECONDITION"));
  EXPECT_THAT(printed, HasSubstr("nothing to cancel"));
  EXPECT_THAT(printed, ::testing::Not(HasSubstr("cancellation requested")));
}

TEST_F(GhostctlTest, EvalPrintsTheServersBitsPerByteForAFile) {
  std::ifstream sample(root_ + "/ghost-tiny/validation-sample.txt", std::ios::binary);
  std::string text(600, '\0');
  ASSERT_TRUE(sample.read(text.data(), static_cast<std::streamsize>(text.size())));
  const std::string path = root_ + "/my text.txt";  // a space: the path reaches the shell quoted
  std::ofstream(path, std::ios::binary) << text;

  ghost::v1::EvaluateRequest request;
  request.set_text(text);
  request.set_window(128);
  ghost::v1::EvaluateResponse expected;
  auto inference = ghost::v1::Inference::NewStub(channel_);
  const grpc::Status status = inference->Evaluate(ContextWithToken("").get(), request, &expected);
  ASSERT_TRUE(status.ok()) << status.error_message();

  const std::vector<std::string> lines =
      Ghostctl("eval --file '" + path + "' --window 128 --model ghost-tiny");
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines[0], absl::StrFormat("bits per byte:   %.6f", expected.bits_per_byte()));
  EXPECT_EQ(lines[1], absl::StrFormat("bytes predicted: %d of 600", expected.bytes_predicted()));
  EXPECT_EQ(lines[2], "window:          128");
  EXPECT_EQ(lines[3], "model:           ghost-tiny");
}

TEST_F(GhostctlTest, EvalSaysWhatIsWrong) {
  const std::string ghostctl = std::string(GHOST_BINARY_DIR) + "/clients/ghostctl/ghostctl";
  const std::string at_server = " --address=127.0.0.1:" + std::to_string(server_->port());
  std::string printed;
  EXPECT_NE(
      RunCommand(ghostctl + at_server + " eval --file " + root_ + "/missing.txt 2>&1", printed), 0);
  EXPECT_THAT(printed, HasSubstr("cannot open " + root_ + "/missing.txt"));

  // One byte over the server's --max_prompt_bytes (1 MiB unless set).
  const std::string large = root_ + "/large.txt";
  std::ofstream(large, std::ios::binary) << std::string((1 << 20) + 1, 'a');
  printed.clear();
  EXPECT_NE(RunCommand(ghostctl + at_server + " eval --file " + large + " 2>&1", printed), 0);
  EXPECT_THAT(printed, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(printed, HasSubstr("--max_prompt_bytes"));

  // No server there: the port of a listener this test opened and closed again.
  const std::string closed = " --address=127.0.0.1:" + std::to_string(UnusedPort());
  printed.clear();
  EXPECT_NE(RunCommand(ghostctl + closed + " eval --file " + large + " 2>&1", printed), 0);
  EXPECT_THAT(printed, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(printed, HasSubstr("is ghostserve running"));

  printed.clear();
  EXPECT_EQ(RunCommand(ghostctl + at_server + " eval 2>&1", printed) >> 8, 2);
  EXPECT_THAT(printed, HasSubstr("--file PATH is required"));
}

// With --logprobs the text stays in one piece on a terminal (stdout and stderr together): the
// logprob lines come after it, one per token, not between its chunks.
TEST(GhostctlGenerateTest, LogprobsFollowTheTextInsteadOfSplittingIt) {
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
