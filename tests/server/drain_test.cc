// Integration: the in-process server's drain (GhostServer::Shutdown) with a stream in flight.
#include <string>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

using grpc::health::v1::HealthCheckResponse;

HealthCheckResponse::ServingStatus Health(grpc::health::v1::Health::Stub& health,
                                          const std::string& service) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  auto context = ContextWithToken("");
  const grpc::Status status = health.Check(context.get(), request, &response);
  EXPECT_TRUE(status.ok()) << service << ": " << status.error_message();
  return response.status();
}

// TESTPLAN C14: during the drain readiness is NOT_SERVING, but liveness stays SERVING (a failed
// liveness probe would get the process killed mid-drain), and the stream in flight finishes.
TEST(DrainTest, LivenessStaysServingWhileReadinessDrains) {
  server::ServerOptions options = TestServerOptions();
  options.grace_period = absl::Minutes(2);  // the stream below ends the drain, not this
  std::unique_ptr<server::GhostServer> server = StartTestServer(options);
  ASSERT_NE(server, nullptr);
  auto health = grpc::health::v1::Health::NewStub(ChannelTo(server->port()));
  ASSERT_EQ(Health(*health, "ghost.v1.Inference"), HealthCheckResponse::SERVING);

  // In flight until this test reads it: its client reads one message, then nothing.
  auto stalled = ghost::v1::Inference::NewStub(SmallWindowChannelTo(server->port()));
  auto context = ContextWithToken("");
  auto reader = stalled->Generate(context.get(), LargeResponseRequest());
  ghost::v1::GenerateResponse response;
  ASSERT_TRUE(reader->Read(&response));
  int tokens = response.token_ids_size();

  std::thread stopper([&server] { server->Shutdown(); });
  // Readiness flips at the start of the drain.
  HealthCheckResponse::ServingStatus ready = HealthCheckResponse::SERVING;
  const absl::Time give_up = absl::Now() + absl::Minutes(1);
  while (ready == HealthCheckResponse::SERVING && absl::Now() < give_up) {
    ready = Health(*health, "ghost.v1.Inference");
  }
  EXPECT_EQ(ready, HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Health(*health, ""), HealthCheckResponse::SERVING);

  std::string finish_reason;
  while (reader->Read(&response)) {
    tokens += response.token_ids_size();
    if (!response.finish_reason().empty()) finish_reason = response.finish_reason();
  }
  const grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(finish_reason, "length");
  EXPECT_EQ(tokens, 480);
  stopper.join();
}

}  // namespace
}  // namespace ghost::testing
