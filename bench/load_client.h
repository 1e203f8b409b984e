// A gRPC load generator for Generate: keeps N streaming calls in flight with the callback API,
// optionally cancelling some mid-stream and giving some a short deadline, and measures what
// each call received. Used by `ghostbench serve` and by the load tests.
#ifndef GHOST_BENCH_LOAD_CLIENT_H_
#define GHOST_BENCH_LOAD_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ghost/v1/inference.grpc.pb.h"

namespace ghost::bench {

struct LoadOptions {
  int concurrency = 16;                // calls in flight at once
  int total_requests = 64;             // calls in all
  ghost::v1::GenerateRequest request;  // sent as is (request_id gets a suffix per call)
  double cancel_fraction = 0;          // cancelled by the client after `cancel_after_tokens`
  int cancel_after_tokens = 2;
  double deadline_fraction = 0;  // given `short_deadline_ms`
  int short_deadline_ms = 50;
  int deadline_s = 300;  // everyone else's deadline
  std::string token;     // bearer token, if the server wants one
  unsigned seed = 1;     // which calls are cancelled / short-deadlined
};

enum class CallKind { kNormal, kCancelled, kShortDeadline };

struct CallResult {
  CallKind kind = CallKind::kNormal;
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  int tokens = 0;              // token ids received
  int completion_tokens = -1;  // from the final chunk's usage; -1 when none arrived
  std::string finish_reason;
  double ttft_s = -1;  // first token id, from the start of the call
  std::vector<double> inter_token_s;
  double e2e_s = 0;
};

struct LoadReport {
  std::vector<CallResult> calls;
  double wall_s = 0;
  long total_tokens = 0;
  double tokens_per_s = 0;
  std::map<std::string, int> codes;  // gRPC code name -> count
};

// Runs the load against `channel` and blocks until every call has finished.
LoadReport RunLoad(const std::shared_ptr<grpc::Channel>& channel, const LoadOptions& options);

// Percentile (0..100) of `values` (copied and sorted); 0 when empty.
double Percentile(std::vector<double> values, double p);

}  // namespace ghost::bench

#endif  // GHOST_BENCH_LOAD_CLIENT_H_
