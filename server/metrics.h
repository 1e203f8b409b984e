// Prometheus metrics of the server (prefix ghost_, base units, model_name label), exposed over
// HTTP on the metrics port.
#ifndef GHOST_SERVER_METRICS_H_
#define GHOST_SERVER_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace ghost::server {

// The front end a request came through: the `api` label of the per-model series.
enum class Api { kGrpc, kHttp };
const char* ApiName(Api api);  // "grpc", "http"

// The series of one model and front end. References stay valid for the life of ServerMetrics.
struct ModelMetrics {
  prometheus::Counter& prompt_tokens;
  prometheus::Counter& generation_tokens;
  prometheus::Counter& text_bytes;
  prometheus::Histogram& time_to_first_token;
  prometheus::Histogram& inter_token_latency;
  prometheus::Histogram& e2e_request_latency;
  prometheus::Histogram& request_queue_time;
  prometheus::Gauge& requests_running;
  prometheus::Family<prometheus::Counter>& request_success_family;
  std::string model_name;
  Api api;

  // ghost_request_success_total{api, model_name, finished_reason}.
  void CountFinished(const std::string& finished_reason);
};

class ServerMetrics {
 public:
  ServerMetrics();

  ModelMetrics& ForModel(const std::string& model_name, Api api);
  // One finished RPC of an authenticated caller. Every argument must come from a closed set (a
  // served method or "unknown"; the gRPC code's name, "OK", "INVALID_ARGUMENT", ...): each new
  // combination is a new series.
  void CountRpc(std::string_view service, std::string_view method, const char* code,
                double seconds);
  // One finished HTTP request of an authenticated caller: ghost_http_requests_total{route,
  // code} and ghost_http_request_duration_seconds{route}. `route` must be one of the served
  // routes or "unknown", `code` an HTTP status the server sends: each is a closed set.
  void CountHttpRequest(std::string_view route, int code, double seconds);
  // One RPC without a valid bearer token: a single series, whatever the caller sent.
  void CountUnauthenticatedRpc() { unauthenticated_rpcs_.Increment(); }
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  // Serves /metrics on bind_address ("0.0.0.0:9464"; port 0 picks a free one). Returns the
  // bound port.
  absl::StatusOr<int> Serve(const std::string& bind_address);
  // Adds series computed at scrape time; call after Serve(). Held weakly: dropping the last
  // shared_ptr removes them.
  void AddCollectable(const std::shared_ptr<prometheus::Collectable>& collectable);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& prompt_tokens_;
  prometheus::Family<prometheus::Counter>& generation_tokens_;
  prometheus::Family<prometheus::Counter>& text_bytes_;
  prometheus::Family<prometheus::Counter>& request_success_;
  prometheus::Family<prometheus::Histogram>& time_to_first_token_;
  prometheus::Family<prometheus::Histogram>& inter_token_latency_;
  prometheus::Family<prometheus::Histogram>& e2e_request_latency_;
  prometheus::Family<prometheus::Histogram>& request_queue_time_;
  prometheus::Family<prometheus::Gauge>& requests_running_;
  prometheus::Family<prometheus::Counter>& grpc_handled_;
  prometheus::Family<prometheus::Histogram>& grpc_handling_seconds_;
  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Family<prometheus::Histogram>& http_request_seconds_;
  prometheus::Counter& unauthenticated_rpcs_;
  std::unique_ptr<prometheus::Exposer> exposer_;

  absl::Mutex mu_;
  std::map<std::pair<std::string, Api>, std::unique_ptr<ModelMetrics>> models_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_METRICS_H_
