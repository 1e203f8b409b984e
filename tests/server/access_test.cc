// Integration: who can reach the server. The default bind is loopback, and admin RPCs are taken
// from other hosts only with an admin token (TESTPLAN G26).
#include <sched.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "ghost/v1/models.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/auth.h"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

// The tests below talk to the server through an address outside 127.0.0.0/8. So that this
// traffic never leaves the test, the binary first moves into a network namespace of its own
// (root only) and gives its loopback interface one more address, kOwnAddress: nothing else is
// reachable there. Without that namespace those tests skip; they never use the machine's own
// interfaces.
constexpr char kOwnAddress[] = "10.254.0.1";
bool in_own_namespace = false;

class OwnNetworkNamespace : public ::testing::Environment {
 public:
  // Runs before any test, while the process has one thread (unshare moves only the caller).
  void SetUp() override {
    if (unshare(CLONE_NEWNET) != 0) return;
    const std::string setup =
        std::string("ip link set lo up && ip addr add ") + kOwnAddress + "/32 dev lo";
    in_own_namespace = std::system(setup.c_str()) == 0;
  }
};
const ::testing::Environment* const kOwnNetworkNamespace =
    ::testing::AddGlobalTestEnvironment(new OwnNetworkNamespace);

// An address of this (namespaced) machine other than loopback, or nullopt outside the namespace.
std::optional<std::string> NonLoopbackAddress() {
  if (!in_own_namespace) return std::nullopt;
  return kOwnAddress;
}

std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address, int port) {
  return grpc::CreateChannel(address + ":" + std::to_string(port),
                             grpc::InsecureChannelCredentials());
}

grpc::Status Load(grpc::Channel& channel, const std::string& token) {
  auto models = ghost::v1::Models::NewStub(channel.shared_from_this());
  ghost::v1::LoadModelRequest request;
  request.set_name("ghost-tiny");
  ghost::v1::Model model;
  auto context = ContextWithToken(token);
  return models->LoadModel(context.get(), request, &model);
}

TEST(AccessTest, LoopbackPeers) {
  EXPECT_TRUE(server::IsLoopbackPeer("ipv4:127.0.0.1:5000"));
  EXPECT_TRUE(server::IsLoopbackPeer("ipv4:127.3.2.1:5000"));
  EXPECT_TRUE(server::IsLoopbackPeer("ipv6:[::1]:5000"));
  EXPECT_TRUE(server::IsLoopbackPeer("ipv6:%5B::1%5D:5000"));
  EXPECT_TRUE(server::IsLoopbackPeer("ipv6:[::ffff:127.0.0.1]:5000"));
  EXPECT_TRUE(server::IsLoopbackPeer("unix:/run/ghost.sock"));
  EXPECT_FALSE(server::IsLoopbackPeer("ipv4:192.0.2.2:5000"));
  EXPECT_FALSE(server::IsLoopbackPeer("ipv4:128.0.0.1:5000"));
  EXPECT_FALSE(server::IsLoopbackPeer("ipv6:[::ffff:192.0.2.2]:5000"));
  EXPECT_FALSE(server::IsLoopbackPeer("ipv6:[fd00::2]:5000"));
  EXPECT_FALSE(server::IsLoopbackPeer("ipv4:127.0.0.1"));  // no port: not a peer string
  EXPECT_FALSE(server::IsLoopbackPeer("127.0.0.1:5000"));
  EXPECT_FALSE(server::IsLoopbackPeer(""));
}

TEST(AccessTest, TheDefaultBindIsLoopback) {
  const server::ServerOptions defaults;
  EXPECT_EQ(defaults.host, "127.0.0.1");
  EXPECT_EQ(defaults.metrics_host, "127.0.0.1");
  server::ServerOptions options = TestServerOptions();
  options.host = defaults.host;
  options.metrics_host = defaults.metrics_host;
  auto server = StartTestServer(options);
  ASSERT_NE(server, nullptr);
  auto live = [&](const std::string& address) {
    auto health = grpc::health::v1::Health::NewStub(ChannelTo(address, server->port()));
    grpc::health::v1::HealthCheckResponse response;
    auto context = ContextWithToken("");
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return health->Check(context.get(), {}, &response);
  };
  EXPECT_TRUE(live("127.0.0.1").ok());
  const std::optional<std::string> outside = NonLoopbackAddress();
  if (!outside) GTEST_SKIP() << "needs a network namespace of its own (root)";
  EXPECT_EQ(live(*outside).error_code(), grpc::StatusCode::UNAVAILABLE) << *outside;
}

TEST(AccessTest, AdminRpcsFromAnotherHostNeedTheAdminToken) {
  const std::optional<std::string> outside = NonLoopbackAddress();
  if (!outside) GTEST_SKIP() << "needs a network namespace of its own (root)";
  server::ServerOptions options = TestServerOptions();
  options.host = "0.0.0.0";
  auto open = StartTestServer(options);
  ASSERT_NE(open, nullptr);
  auto remote = ChannelTo(*outside, open->port());
  const grpc::Status refused = Load(*remote, "");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("--admin_token"), std::string::npos)
      << refused.error_message();
  // Other RPCs stay open to other hosts, and admin RPCs to this one.
  auto models = ghost::v1::Models::NewStub(remote);
  ghost::v1::ListModelsResponse list;
  auto context = ContextWithToken("");
  EXPECT_TRUE(models->ListModels(context.get(), {}, &list).ok());
  EXPECT_TRUE(Load(*ChannelTo("127.0.0.1", open->port()), "").ok());
  open.reset();

  options = TestServerOptions();
  options.host = "0.0.0.0";
  options.admin_token = "adm1n";
  auto guarded = StartTestServer(options);
  ASSERT_NE(guarded, nullptr);
  remote = ChannelTo(*outside, guarded->port());
  EXPECT_TRUE(Load(*remote, "adm1n").ok());
  EXPECT_EQ(Load(*remote, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// TESTPLAN G28: two processes never serve the same port. gRPC's default SO_REUSEPORT would let
// a second server bind the first one's port and take half its connections.
TEST(AccessTest, ASecondServerCannotTakeATakenPort) {
  auto first = StartTestServer(TestServerOptions());
  ASSERT_NE(first, nullptr);

  server::ServerOptions options = TestServerOptions();
  options.port = first->port();
  auto same_grpc_port = server::GhostServer::Start(options);
  ASSERT_FALSE(same_grpc_port.ok());
  EXPECT_EQ(same_grpc_port.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(same_grpc_port.status().message().find(
                "cannot serve gRPC on 127.0.0.1:" + std::to_string(first->port()) +
                ": the port is in use"),
            std::string::npos)
      << same_grpc_port.status();

  options = TestServerOptions();
  options.metrics_port = first->metrics_port();
  auto same_metrics_port = server::GhostServer::Start(options);
  ASSERT_FALSE(same_metrics_port.ok());
  EXPECT_EQ(same_metrics_port.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(same_metrics_port.status().message().find("cannot serve metrics on 127.0.0.1:" +
                                                      std::to_string(first->metrics_port())),
            std::string::npos)
      << same_metrics_port.status();

  // The first server still answers.
  auto health = grpc::health::v1::Health::NewStub(ChannelTo("127.0.0.1", first->port()));
  grpc::health::v1::HealthCheckResponse response;
  auto context = ContextWithToken("");
  EXPECT_TRUE(health->Check(context.get(), {}, &response).ok());
}

}  // namespace
}  // namespace ghost::testing
