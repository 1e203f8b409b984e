// The ghostserve binary under SIGTERM with a stream in flight: readiness goes NOT_SERVING at
// once, the stream finishes with all its tokens, the process exits 0.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <regex>
#include <string>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

// Runs ghostserve with its stderr on a pipe; learns the gRPC port from its start-up line.
class ServerProcess {
 public:
  bool Start(double grace_period_s = 20) {
    int fds[2];
    if (pipe(fds) != 0) return false;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDERR_FILENO);
      close(fds[0]);
      const std::string binary = std::string(GHOST_BINARY_DIR) + "/server/ghostserve";
      const std::string root = std::string("--model_root=") + GHOST_SOURCE_DIR + "/models";
      // Its own data directory: never the user's, nor another test's registry.
      const std::string data = "--data_dir=" + data_dir_;
      const std::string grace = "--grace_period_s=" + std::to_string(grace_period_s);
      execl(binary.c_str(), binary.c_str(), "--host=127.0.0.1", "--port=0", "--metrics_port=0",
            "--http_port=0", root.c_str(), data.c_str(), grace.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    log_ = fdopen(fds[0], "r");
    // "ghostserve: gRPC on 127.0.0.1:PORT, ..." then "... ready".
    const std::regex port_line(R"(gRPC on [0-9.]+:(\d+))");
    char line[1024];
    while (fgets(line, sizeof(line), log_) != nullptr) {
      output_ += line;
      std::cmatch match;
      if (std::regex_search(line, match, port_line)) port_ = std::stoi(match[1]);
      if (std::string(line).find(" ready") != std::string::npos) return port_ > 0;
    }
    return false;
  }
  // Reads the log until a line contains `text`; false if the process ends first.
  bool WaitForOutput(const std::string& text) {
    char line[1024];
    while (fgets(line, sizeof(line), log_) != nullptr) {
      output_ += line;
      if (std::string(line).find(text) != std::string::npos) return true;
    }
    return false;
  }
  // Exit status after the process ends, reading the rest of its log.
  int Wait() {
    char line[1024];
    while (fgets(line, sizeof(line), log_) != nullptr) output_ += line;
    fclose(log_);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      Wait();
    }
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& output() const { return output_; }

 private:
  const std::string data_dir_ = FreshTempDir("sigterm_data");
  pid_t pid_ = -1;
  FILE* log_ = nullptr;
  int port_ = 0;
  std::string output_;
};

TEST(SigtermTest, DrainsInFlightStreamsAndExitsZero) {
  ServerProcess process;
  ASSERT_TRUE(process.Start()) << process.output();
  auto channel = ChannelTo(process.port());
  auto stub = ghost::v1::Inference::NewStub(channel);

  ghost::v1::GenerateRequest request;
  request.set_text("In the year of our Lord");
  request.mutable_sampling()->set_temperature(0);
  request.mutable_stopping()->set_max_new_tokens(450);
  request.mutable_stopping()->set_ignore_eos(true);
  auto context = ContextWithToken("");
  auto reader = stub->Generate(context.get(), request);
  ghost::v1::GenerateResponse response;
  ASSERT_TRUE(reader->Read(&response));
  int tokens = response.token_ids_size();

  ASSERT_EQ(kill(process.pid(), SIGTERM), 0);
  // Readiness flips at once, while the stream is still running.
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckResponse status;
  grpc::health::v1::HealthCheckRequest ready;
  ready.set_service("ghost.v1.Inference");
  bool saw_not_serving = false;
  for (int i = 0; i < 50 && !saw_not_serving; ++i) {
    auto health_context = ContextWithToken("");
    if (health->Check(health_context.get(), ready, &status).ok() &&
        status.status() == grpc::health::v1::HealthCheckResponse::NOT_SERVING) {
      saw_not_serving = true;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  EXPECT_TRUE(saw_not_serving);

  std::string finish_reason;
  while (reader->Read(&response)) {
    tokens += response.token_ids_size();
    if (!response.finish_reason().empty()) finish_reason = response.finish_reason();
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(finish_reason, "length");
  EXPECT_EQ(tokens, 450);

  const int exit_status = process.Wait();
  EXPECT_TRUE(WIFEXITED(exit_status)) << process.output();
  EXPECT_EQ(WEXITSTATUS(exit_status), 0) << process.output();
}

// A stream still running when the grace period ends gets UNAVAILABLE "server shutting down"
// (retryable, and saying why), not the transport's "Cancelling all calls" or a broken pipe.
// Its client stops reading after one message, so the stream is in flight when the period (0 s
// here) ends; the client reads on once the server has logged that it ended the streams.
TEST(SigtermTest, StreamsOutlivingTheGracePeriodEndWithUnavailable) {
  ServerProcess process;
  ASSERT_TRUE(process.Start(/*grace_period_s=*/0)) << process.output();
  auto stub = ghost::v1::Inference::NewStub(SmallWindowChannelTo(process.port()));
  auto context = ContextWithToken("");
  auto reader = stub->Generate(context.get(), LargeResponseRequest());
  ghost::v1::GenerateResponse response;
  ASSERT_TRUE(reader->Read(&response));

  ASSERT_EQ(kill(process.pid(), SIGTERM), 0);
  ASSERT_TRUE(process.WaitForOutput("grace period over, ended 1 streams with UNAVAILABLE"))
      << process.output();
  std::string finish_reason;
  while (reader->Read(&response)) {
    if (!response.finish_reason().empty()) finish_reason = response.finish_reason();
  }
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(status.error_message().rfind("server shutting down", 0), 0u) << status.error_message();
  EXPECT_TRUE(finish_reason.empty()) << "a cut stream has no finish reason";

  const int exit_status = process.Wait();
  EXPECT_TRUE(WIFEXITED(exit_status)) << process.output();
  EXPECT_EQ(WEXITSTATUS(exit_status), 0) << process.output();
}

}  // namespace
}  // namespace ghost::testing
