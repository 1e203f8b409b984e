// Helpers for the server integration tests: an in-process server on 127.0.0.1:0 with the
// embedded ghost-tiny model, authenticated stubs and a plain HTTP GET for /metrics.
#ifndef GHOST_TESTS_SERVER_TEST_UTIL_H_
#define GHOST_TESTS_SERVER_TEST_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "ghost/v1/inference.grpc.pb.h"
#include "server/server.h"

namespace ghost::testing {

// A fresh empty directory under the test temp dir.
std::string FreshTempDir(const std::string& prefix);

// Loopback, free ports, models/ as the model root, and fresh registry and data directories.
server::ServerOptions TestServerOptions();

// Starts a server and waits until its default model is ready; fails the test otherwise.
std::unique_ptr<server::GhostServer> StartTestServer(const server::ServerOptions& options);

std::shared_ptr<grpc::Channel> ChannelTo(int port);
// A channel whose streams receive only a few KB ahead of what the client has read (no BDP
// probing, small lookahead): once its client stops reading, a stream with more to send stalls
// the server's writes and stays in flight for as long as a test needs, however fast the server.
std::shared_ptr<grpc::Channel> SmallWindowChannelTo(int port);
// A greedy Generate request for `model` ("Once upon a time", EOS ignored): exactly
// `max_new_tokens` tokens, the same ones on every run.
ghost::v1::GenerateRequest GreedyRequest(const std::string& model, int max_new_tokens);
// A Generate request whose responses total ~100 KB (480 tokens with 20 logprobs each), more
// than a SmallWindowChannelTo stream takes unread.
ghost::v1::GenerateRequest LargeResponseRequest();
std::unique_ptr<grpc::ClientContext> ContextWithToken(const std::string& token);

struct StreamResult {
  grpc::Status status;
  std::vector<ghost::v1::GenerateResponse> chunks;
  std::string text;
  std::vector<int> token_ids;
  std::string finish_reason;
  ghost::v1::Usage usage;
};
StreamResult CollectStream(ghost::v1::Inference::Stub& stub,
                           const ghost::v1::GenerateRequest& request,
                           const std::string& token = "");

// Body of GET http://127.0.0.1:port/path, or "" on any error.
std::string HttpGet(int port, const std::string& path);

// Value of the first sample line starting with `series` (name plus labels), or -1.
double MetricValue(const std::string& exposition, const std::string& series);

// Polls /metrics until `series` reads `value`, and returns the last value seen. Some series (the
// running gauge) change when gRPC calls OnDone, just after the client has seen the end of its
// call; others follow the engine, at whatever speed a loaded machine runs it. The wait ends
// after a minute, a bound for a server that never gets there, not an expectation of speed.
double AwaitMetric(int metrics_port, const std::string& series, double value);

}  // namespace ghost::testing

#endif  // GHOST_TESTS_SERVER_TEST_UTIL_H_
