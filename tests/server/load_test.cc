// Streams under load (test plan B6, B8): many concurrent Generate calls with cancellations and
// short deadlines, and overload against a small queue.
#include <thread>

#include "bench/load_client.h"
#include "engine/runtime/executor.h"
#include "gtest/gtest.h"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

using bench::CallKind;
using bench::CallResult;
using bench::LoadOptions;
using bench::LoadReport;

constexpr int kMaxNewTokens = 8;

LoadOptions BaseLoad(int concurrency, int total) {
  LoadOptions load;
  load.concurrency = concurrency;
  load.total_requests = total;
  load.request.set_text("Load test");
  load.request.mutable_sampling()->set_temperature(0.7f);
  load.request.mutable_sampling()->set_seed(7);
  load.request.mutable_stopping()->set_max_new_tokens(kMaxNewTokens);
  load.request.mutable_stopping()->set_ignore_eos(true);
  return load;
}

TEST(LoadTest, ConcurrentStreamsWithCancellationsAndDeadlines) {
  server::ServerOptions options = TestServerOptions();
  options.max_queued_requests = 512;
  auto server = StartTestServer(options);
  ASSERT_NE(server, nullptr);

  LoadOptions load = BaseLoad(256, 256);
  load.cancel_fraction = 0.2;
  load.cancel_after_tokens = 2;
  load.deadline_fraction = 0.1;
  load.short_deadline_ms = 20;
  const LoadReport report = bench::RunLoad(ChannelTo(server->port()), load);

  int normal = 0, cancelled = 0;
  for (const CallResult& call : report.calls) {
    switch (call.kind) {
      case CallKind::kNormal:
        ++normal;
        // Every call that was left alone gets exactly its tokens.
        EXPECT_EQ(call.code, grpc::StatusCode::OK) << call.message;
        EXPECT_EQ(call.tokens, kMaxNewTokens);
        EXPECT_EQ(call.completion_tokens, kMaxNewTokens);
        EXPECT_EQ(call.finish_reason, "length");
        break;
      case CallKind::kCancelled:
        ++cancelled;
        // A call may finish before its cancel lands; otherwise it is CANCELLED.
        EXPECT_TRUE(call.code == grpc::StatusCode::CANCELLED || call.code == grpc::StatusCode::OK)
            << call.message;
        break;
      case CallKind::kShortDeadline:
        EXPECT_TRUE(call.code == grpc::StatusCode::DEADLINE_EXCEEDED ||
                    call.code == grpc::StatusCode::OK)
            << call.message;
        break;
    }
  }
  EXPECT_GT(normal, 150);
  EXPECT_GT(cancelled, 20);

  const std::string grpc_model = "{api=\"grpc\",model_name=\"ghost-tiny\"}";
  EXPECT_EQ(AwaitMetric(server->metrics_port(), "ghost_num_requests_running" + grpc_model, 0), 0);
  // The server still serves.
  auto stub = ghost::v1::Inference::NewStub(ChannelTo(server->port()));
  EXPECT_TRUE(CollectStream(*stub, load.request).status.ok());
}

TEST(LoadTest, OverloadGetsResourceExhaustedWithPushbackAndAdmittedCallsComplete) {
  server::ServerOptions options = TestServerOptions();
  options.max_queued_requests = 4;
  auto server = StartTestServer(options);
  ASSERT_NE(server, nullptr);
  // 4x overload: admission takes the batch's free slots plus the queue bound.
  const int overload = 4 * (ExecutorOptions().max_batch_size + options.max_queued_requests);

  LoadOptions load = BaseLoad(overload, overload);
  load.request.mutable_stopping()->set_max_new_tokens(32);
  const LoadReport report = bench::RunLoad(ChannelTo(server->port()), load);
  int ok = 0, exhausted = 0;
  for (const CallResult& call : report.calls) {
    if (call.code == grpc::StatusCode::OK) {
      ++ok;
      EXPECT_EQ(call.tokens, 32);
    } else {
      EXPECT_EQ(call.code, grpc::StatusCode::RESOURCE_EXHAUSTED) << call.message;
      EXPECT_NE(call.message.find("retry"), std::string::npos) << call.message;
      ++exhausted;
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(exhausted, 0);

  // The refusal carries gRPC's retry pushback hint.
  auto stub = ghost::v1::Inference::NewStub(ChannelTo(server->port()));
  std::vector<std::thread> flood;
  std::atomic<int> pushbacks{0};
  for (int i = 0; i < overload; ++i) {
    flood.emplace_back([&] {
      auto context = ContextWithToken("");
      auto reader = stub->Generate(context.get(), load.request);
      ghost::v1::GenerateResponse response;
      while (reader->Read(&response)) {
      }
      const grpc::Status status = reader->Finish();
      if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
          context->GetServerTrailingMetadata().count("grpc-retry-pushback-ms") == 1) {
        ++pushbacks;
      }
    });
  }
  for (std::thread& t : flood) t.join();
  EXPECT_GT(pushbacks.load(), 0);
}

}  // namespace
}  // namespace ghost::testing
