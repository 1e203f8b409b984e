// TESTPLAN D.15/16: the ghostserve binary is killed with SIGKILL while a compression job runs.
// After a restart on the same registry directory the job is FAILED as interrupted, nothing of
// its model exists, its request_id still names it, and the same job submitted again succeeds.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "engine/compressor/model_compressor.h"
#include "engine/jobs/compress_job.h"
#include "ghost/v1/models.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/compression_client.h"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

namespace fs = std::filesystem;

// Runs ghostserve with its stderr in a file (nothing can block on a full pipe) and learns the
// gRPC port from its start-up lines.
class ServerProcess {
 public:
  ServerProcess(std::vector<std::string> args, std::string log)
      : args_(std::move(args)), log_(std::move(log)) {}
  ~ServerProcess() { Kill(); }

  bool Start() {
    pid_ = fork();
    if (pid_ == 0) {
      freopen(log_.c_str(), "w", stderr);
      const std::string binary = std::string(GHOST_BINARY_DIR) + "/server/ghostserve";
      std::vector<char*> argv = {const_cast<char*>(binary.c_str())};
      for (std::string& arg : args_) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    const std::regex port_line(R"(gRPC on [0-9.]+:(\d+))");
    for (int i = 0; i < 1200; ++i) {
      std::ifstream in(log_);
      std::stringstream text;
      text << in.rdbuf();
      std::smatch match;
      const std::string output = text.str();
      if (std::regex_search(output, match, port_line) &&
          output.find(" ready") != std::string::npos) {
        port_ = std::stoi(match[1]);
        return true;
      }
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  int port() const { return port_; }
  std::string log() const {
    std::ifstream in(log_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  std::vector<std::string> args_;
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

TEST(CompressionKillTest, RestartFailsTheInterruptedJobAndLeavesNoModel) {
  const std::string root = FreshTempDir("kill_models");
  const std::string data = FreshTempDir("kill_data");
  const std::string logs = FreshTempDir("kill_logs");
  fs::copy(std::string(GHOST_SOURCE_DIR) + "/models/ghost-tiny", root + "/ghost-tiny",
           fs::copy_options::recursive);
  const std::vector<std::string> args = {"--host=127.0.0.1",          "--port=0",
                                         "--metrics_port=0",          "--http_port=0",
                                         "--model_root=" + root,      "--data_dir=" + data,
                                         "--default_model=ghost-tiny"};  // the root's only model
  const std::string output_root = data + "/models";                      // where jobs write
  const std::string output_dir = output_root + "/tiny-t64";

  // ghost-tiny's job runs for seconds: long enough to be caught while it profiles.
  ghost::v1::CompressRequest request = CompressRequestFor("ghost-tiny", "tiny-t64");
  request.set_request_id("kill-1");

  std::string name;
  google::longrunning::Operation queued;
  {
    ServerProcess first(args, logs + "/first.log");
    ASSERT_TRUE(first.Start()) << first.log();
    CompressionClient client(ChannelTo(first.port()));
    google::longrunning::Operation operation;
    ASSERT_TRUE(client.Compress(request, &operation).ok());
    name = operation.name();
    // Running, past "starting": the compressor has made its partial directory.
    std::string phase = MetadataOf(operation).phase();
    for (int i = 0; i < 600 && (phase == "queued" || phase == "starting"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      ASSERT_TRUE(client.Get(name, &operation).ok());
      phase = MetadataOf(operation).phase();
    }
    ASSERT_FALSE(operation.done()) << "the job ended before it could be killed; lengthen it";
    ASSERT_NE(phase, "queued");
    EXPECT_TRUE(fs::exists(
        compress::PartialOutputDir(output_dir, name.substr(std::string("operations/").size()))));
    // Issue 16: a second job waits to write "copied" when a user copies a model directory
    // there; recovery must not take it for the job's output.
    ASSERT_TRUE(client.Compress(CompressRequestFor("ghost-tiny", "copied"), &queued).ok());
    fs::copy(root + "/ghost-tiny", output_root + "/copied", fs::copy_options::recursive);
    first.Kill();
  }

  ServerProcess second(args, logs + "/second.log");
  ASSERT_TRUE(second.Start()) << second.log();
  auto channel = ChannelTo(second.port());
  CompressionClient client(channel);
  google::longrunning::Operation operation;
  ASSERT_TRUE(client.Get(name, &operation).ok());
  EXPECT_TRUE(operation.done());
  EXPECT_EQ(operation.error().code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(operation.error().message(), jobs::kInterruptedReason);
  for (const fs::directory_entry& entry : fs::directory_iterator(output_root)) {
    EXPECT_NE(entry.path().filename().string().rfind("tiny-t64", 0), 0u) << entry.path();
  }
  ASSERT_TRUE(client.Get(queued.name(), &queued).ok());
  EXPECT_EQ(queued.error().message(), jobs::kInterruptedReason);
  EXPECT_TRUE(fs::exists(output_root + "/copied/config.json"));
  EXPECT_EQ(fs::file_size(output_root + "/copied/model.safetensors"),
            fs::file_size(root + "/ghost-tiny/model.safetensors"));
  auto models = ghost::v1::Models::NewStub(channel);
  ghost::v1::ListModelsResponse list;
  ASSERT_TRUE(models->ListModels(ContextWithToken("").get(), {}, &list).ok());
  for (const ghost::v1::Model& model : list.models()) EXPECT_NE(model.name(), "tiny-t64");

  // The request_id still names the failed job; a new request runs it again to success.
  google::longrunning::Operation retried;
  ASSERT_TRUE(client.Compress(request, &retried).ok());
  EXPECT_EQ(retried.name(), name);
  EXPECT_TRUE(retried.done());
  request.set_request_id("kill-2");
  ASSERT_TRUE(client.Compress(request, &retried).ok());
  EXPECT_NE(retried.name(), name);
  const google::longrunning::Operation done = client.AwaitDone(retried.name());
  EXPECT_TRUE(done.has_response()) << done.error().message();
  EXPECT_TRUE(fs::exists(output_dir + "/config.json"));
  second.Kill();
  for (const std::string& dir : {root, data, logs}) fs::remove_all(dir);
}

}  // namespace
}  // namespace ghost::testing
