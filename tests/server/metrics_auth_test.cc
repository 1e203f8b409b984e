// Integration: /metrics content checked by promtool, and bearer-token authentication.
#include <grpcpp/generic/generic_stub.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <string>

#include "ghost/v1/models.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

ghost::v1::GenerateRequest ShortRequest() {
  ghost::v1::GenerateRequest request;
  request.set_text("Metrics");
  request.mutable_sampling()->set_temperature(0);
  request.mutable_stopping()->set_max_new_tokens(5);
  request.mutable_stopping()->set_ignore_eos(true);
  return request;
}

TEST(MetricsTest, ScrapeShowsTokensAndPassesPromtool) {
  auto server = StartTestServer(TestServerOptions());
  ASSERT_NE(server, nullptr);
  auto stub = ghost::v1::Inference::NewStub(ChannelTo(server->port()));
  ASSERT_TRUE(CollectStream(*stub, ShortRequest()).status.ok());

  const std::string scrape = HttpGet(server->metrics_port(), "/metrics");
  ASSERT_FALSE(scrape.empty());
  // The request's series carry the front end it came through; the model's gauges its device.
  const std::string grpc_model = "{api=\"grpc\",model_name=\"ghost-tiny\"}";
  const std::string model = "{device=\"cpu\",model_name=\"ghost-tiny\"}";
  EXPECT_EQ(MetricValue(scrape, "ghost_generation_tokens_total" + grpc_model), 5);
  EXPECT_EQ(MetricValue(scrape, "ghost_prompt_tokens_total" + grpc_model), 7);
  EXPECT_EQ(AwaitMetric(server->metrics_port(), "ghost_num_requests_running" + grpc_model, 0), 0);
  EXPECT_EQ(MetricValue(scrape, "ghost_time_to_first_token_seconds_count" + grpc_model), 1);
  EXPECT_EQ(MetricValue(scrape, "ghost_e2e_request_latency_seconds_count" + grpc_model), 1);
  EXPECT_EQ(MetricValue(scrape, "ghost_inter_token_latency_seconds_count" + grpc_model), 4);
  EXPECT_EQ(MetricValue(scrape, "ghost_request_queue_time_seconds_count" + grpc_model), 1);
  // Read from the model at scrape time: nothing waits, the finished request's KV blocks are
  // free again, and ghost-tiny's 5.8M bf16 parameters take 2 bytes each (its norm weights are
  // widened to fp32, a few KiB more).
  EXPECT_EQ(MetricValue(scrape, "ghost_num_requests_waiting" + model), 0);
  EXPECT_EQ(AwaitMetric(server->metrics_port(), "ghost_kv_cache_usage_ratio" + model, 0), 0);
  const double weight_bytes = MetricValue(
      scrape, "ghost_model_weight_bytes{device=\"cpu\",format=\"bf16\",model_name=\"ghost-tiny\"}");
  EXPECT_GE(weight_bytes, 2 * 5837568);
  EXPECT_LT(weight_bytes, 2 * 5837568 + 16384);
  EXPECT_EQ(MetricValue(scrape,
                        "ghost_model_sparsity_ratio{device=\"cpu\",kind=\"removed_neurons\","
                        "model_name=\"ghost-tiny\"}"),
            0);
  EXPECT_NE(
      scrape.find("ghost_request_success_total{api=\"grpc\",finished_reason=\"length\",model_name="
                  "\"ghost-tiny\"} 1"),
      std::string::npos)
      << scrape;
  EXPECT_NE(scrape.find("ghost_build_info{"), std::string::npos);
  EXPECT_EQ(MetricValue(scrape,
                        "grpc_server_handled_total{grpc_code=\"OK\",grpc_method="
                        "\"Generate\",grpc_service=\"ghost.v1.Inference\"}"),
            1)
      << scrape;
  // No prompt text or file path may leak into metrics.
  EXPECT_EQ(scrape.find("Metrics\""), std::string::npos);
  EXPECT_EQ(scrape.find(GHOST_SOURCE_DIR), std::string::npos);

  const std::string file = ::testing::TempDir() + "/ghost_scrape.txt";
  std::ofstream(file) << scrape;
  ASSERT_EQ(std::system("command -v promtool > /dev/null"), 0)
      << "promtool missing: run tools/install-deps.sh (Debian package prometheus)";
  const std::string command = "promtool check metrics < " + file;
  EXPECT_EQ(std::system(command.c_str()), 0) << "promtool rejected:\n" << scrape;
}

// The series of an exposition (each sample line without its value), sorted.
std::set<std::string> SeriesOf(const std::string& exposition) {
  std::set<std::string> series;
  std::istringstream lines(exposition);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    series.insert(line.substr(0, line.rfind(' ')));
  }
  return series;
}

// A unary call to any method name, as an attacker's client would make it.
grpc::Status CallMethod(grpc::Channel& channel, const std::string& method,
                        const std::string& token) {
  grpc::GenericStub stub(channel.shared_from_this());
  auto context = ContextWithToken(token);
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(context.get(), method, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  return done.get_future().get();
}

// TESTPLAN G24: made-up method names and calls without a valid token never create series (20,000
// such calls grew /metrics to 109 MB).
TEST(MetricsTest, UnknownMethodsAndUnauthenticatedCallsCreateNoSeries) {
  server::ServerOptions options = TestServerOptions();
  options.auth_token = "s3cret";
  auto server = StartTestServer(options);
  ASSERT_NE(server, nullptr);
  auto channel = ChannelTo(server->port());
  // One authenticated call to a known method and one to an unknown method create their series.
  auto models = ghost::v1::Models::NewStub(channel);
  ghost::v1::ListModelsResponse list;
  auto context = ContextWithToken("s3cret");
  ASSERT_TRUE(models->ListModels(context.get(), {}, &list).ok());
  EXPECT_EQ(CallMethod(*channel, "/evil.Service/Method", "s3cret").error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  const std::string before = HttpGet(server->metrics_port(), "/metrics");
  ASSERT_FALSE(before.empty());

  constexpr int kCalls = 40;
  for (int i = 0; i < kCalls; ++i) {
    const std::string method = "/evil" + std::to_string(i) + ".Service/Method" + std::to_string(i);
    EXPECT_EQ(CallMethod(*channel, method, "").error_code(), grpc::StatusCode::UNIMPLEMENTED);
    EXPECT_EQ(CallMethod(*channel, method, "wrong").error_code(), grpc::StatusCode::UNIMPLEMENTED);
    EXPECT_EQ(CallMethod(*channel, method, "s3cret").error_code(), grpc::StatusCode::UNIMPLEMENTED);
    EXPECT_EQ(CallMethod(*channel, "/ghost.v1.Models/ListModels", "").error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  // ghost_unauthenticated_rpcs_total is counted before the status reaches the client.
  const std::string after = HttpGet(server->metrics_port(), "/metrics");
  EXPECT_EQ(SeriesOf(after), SeriesOf(before));
  EXPECT_EQ(after.find("evil"), std::string::npos);
  EXPECT_EQ(MetricValue(after, "ghost_unauthenticated_rpcs_total") -
                MetricValue(before, "ghost_unauthenticated_rpcs_total"),
            3 * kCalls);
  EXPECT_EQ(MetricValue(after,
                        "grpc_server_handled_total{grpc_code=\"UNIMPLEMENTED\","
                        "grpc_method=\"unknown\",grpc_service=\"unknown\"}"),
            kCalls + 1);
  EXPECT_EQ(MetricValue(after,
                        "grpc_server_handled_total{grpc_code=\"OK\",grpc_method="
                        "\"ListModels\",grpc_service=\"ghost.v1.Models\"}"),
            1);
}

TEST(AuthTest, EveryRpcNeedsTheBearerToken) {
  server::ServerOptions options = TestServerOptions();
  options.auth_token = "s3cret";
  auto server = StartTestServer(options);
  ASSERT_NE(server, nullptr);
  auto channel = ChannelTo(server->port());
  auto inference = ghost::v1::Inference::NewStub(channel);
  auto models = ghost::v1::Models::NewStub(channel);

  for (const std::string token : {"", "wrong", "s3cretX"}) {
    EXPECT_EQ(CollectStream(*inference, ShortRequest(), token).status.error_code(),
              grpc::StatusCode::UNAUTHENTICATED)
        << "token '" << token << "'";
    ghost::v1::ListModelsResponse list;
    auto context = ContextWithToken(token);
    EXPECT_EQ(models->ListModels(context.get(), {}, &list).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    ghost::v1::TokenizeResponse tokens;
    auto context2 = ContextWithToken(token);
    EXPECT_EQ(inference->Tokenize(context2.get(), {}, &tokens).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  const StreamResult ok = CollectStream(*inference, ShortRequest(), "s3cret");
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  EXPECT_EQ(ok.token_ids.size(), 5u);
  ghost::v1::ListModelsResponse list;
  auto context = ContextWithToken("s3cret");
  EXPECT_TRUE(models->ListModels(context.get(), {}, &list).ok());

  // Health stays open so load balancers and Kubernetes probes (which send no metadata) work.
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckResponse response;
  auto context3 = ContextWithToken("");
  EXPECT_TRUE(health->Check(context3.get(), {}, &response).ok());
}

// RFC 6750 auth schemes are case-insensitive: "bearer" and "BEARER" work as "Bearer" does.
TEST(AuthTest, TheBearerSchemeIsCaseInsensitive) {
  server::ServerOptions options = TestServerOptions();
  options.auth_token = "s3cret";
  auto server = StartTestServer(options);
  ASSERT_NE(server, nullptr);
  auto models = ghost::v1::Models::NewStub(ChannelTo(server->port()));
  const auto list = [&](const std::string& authorization) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", authorization);
    ghost::v1::ListModelsResponse response;
    return models->ListModels(&context, {}, &response);
  };
  EXPECT_TRUE(list("bearer s3cret").ok());
  EXPECT_TRUE(list("BEARER s3cret").ok());
  EXPECT_TRUE(list("Bearer  s3cret").ok());
  EXPECT_EQ(list("bearer wrong").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(list("bearer wrong").error_message(), "invalid bearer token");
  EXPECT_EQ(list("Bearers3cret").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(list("Basic s3cret").error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST(AuthTest, WithoutATokenConfiguredCallsNeedNone) {
  auto server = StartTestServer(TestServerOptions());
  ASSERT_NE(server, nullptr);
  auto stub = ghost::v1::Inference::NewStub(ChannelTo(server->port()));
  EXPECT_TRUE(CollectStream(*stub, ShortRequest()).status.ok());
  EXPECT_TRUE(CollectStream(*stub, ShortRequest(), "any").status.ok());
}

}  // namespace
}  // namespace ghost::testing
