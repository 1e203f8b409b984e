#include "tests/server/test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"

namespace ghost::testing {

std::string FreshTempDir(const std::string& prefix) {
  std::string pattern = ::testing::TempDir() + "/ghost_" + prefix + "_XXXXXX";
  const char* made = mkdtemp(pattern.data());
  EXPECT_NE(made, nullptr) << "mkdtemp " << pattern;
  return pattern;
}

server::ServerOptions TestServerOptions() {
  server::ServerOptions options;
  options.host = "127.0.0.1";
  options.metrics_host = "127.0.0.1";
  options.port = 0;
  options.metrics_port = 0;
  options.http_port = server::kAnyHttpPort;
  // Most suites import exactly the models they serve; models_test turns discovery on.
  options.discover_models = false;
  options.model_roots = {std::string(GHOST_SOURCE_DIR) + "/models"};
  options.default_model = "ghost-tiny";
  // Servers of one test binary, and test binaries run in parallel, each get their own registry
  // and data directory (compression outputs).
  options.data_dir = FreshTempDir("data");
  options.registry_dir = FreshTempDir("registry");
  options.grace_period = absl::Seconds(10);
  return options;
}

std::unique_ptr<server::GhostServer> StartTestServer(const server::ServerOptions& options) {
  auto server = server::GhostServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  EXPECT_TRUE((*server)->WaitUntilReady());
  return *std::move(server);
}

std::shared_ptr<grpc::Channel> ChannelTo(int port) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                             grpc::InsecureChannelCredentials());
}

std::shared_ptr<grpc::Channel> SmallWindowChannelTo(int port) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials(), args);
}

ghost::v1::GenerateRequest GreedyRequest(const std::string& model, int max_new_tokens) {
  ghost::v1::GenerateRequest request;
  request.set_model(model);
  request.set_text("Once upon a time");
  request.mutable_sampling()->set_temperature(0);
  request.mutable_stopping()->set_max_new_tokens(max_new_tokens);
  request.mutable_stopping()->set_ignore_eos(true);
  return request;
}

ghost::v1::GenerateRequest LargeResponseRequest() {
  ghost::v1::GenerateRequest request;
  request.set_text("A long answer");
  request.mutable_sampling()->set_temperature(0);
  request.mutable_stopping()->set_max_new_tokens(480);
  request.mutable_stopping()->set_ignore_eos(true);
  request.set_logprobs(20);
  return request;
}

std::unique_ptr<grpc::ClientContext> ContextWithToken(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  return context;
}

StreamResult CollectStream(ghost::v1::Inference::Stub& stub,
                           const ghost::v1::GenerateRequest& request, const std::string& token) {
  StreamResult result;
  auto context = ContextWithToken(token);
  auto reader = stub.Generate(context.get(), request);
  ghost::v1::GenerateResponse response;
  while (reader->Read(&response)) {
    result.text += response.text();
    result.token_ids.insert(result.token_ids.end(), response.token_ids().begin(),
                            response.token_ids().end());
    if (!response.finish_reason().empty()) {
      result.finish_reason = response.finish_reason();
      result.usage = response.usage();
    }
    result.chunks.push_back(response);
  }
  result.status = reader->Finish();
  return result;
}

std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[8192];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
    }
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

double MetricValue(const std::string& exposition, const std::string& series) {
  std::istringstream lines(exposition);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series, 0) == 0 && line.size() > series.size() && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1;
}

double AwaitMetric(int metrics_port, const std::string& series, double value) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  double seen = MetricValue(HttpGet(metrics_port, "/metrics"), series);
  while (seen != value && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    seen = MetricValue(HttpGet(metrics_port, "/metrics"), series);
  }
  return seen;
}

}  // namespace ghost::testing
