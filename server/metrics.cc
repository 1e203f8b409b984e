#include "server/metrics.h"

#include <exception>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/backend/device_info.h"

namespace ghost::server {
namespace {

// Latency buckets from 1 ms to ~40 s, roughly x2 apart.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40};
  return *buckets;
}

}  // namespace

const char* ApiName(Api api) {
  switch (api) {
    case Api::kGrpc:
      return "grpc";
    case Api::kHttp:
      return "http";
  }
  return "unknown";
}

void ModelMetrics::CountFinished(const std::string& finished_reason) {
  request_success_family
      .Add(
          {{"api", ApiName(api)}, {"model_name", model_name}, {"finished_reason", finished_reason}})
      .Increment();
}

ServerMetrics::ServerMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      prompt_tokens_(prometheus::BuildCounter()
                         .Name("ghost_prompt_tokens_total")
                         .Help("Prompt tokens processed.")
                         .Register(*registry_)),
      generation_tokens_(prometheus::BuildCounter()
                             .Name("ghost_generation_tokens_total")
                             .Help("Tokens generated.")
                             .Register(*registry_)),
      text_bytes_(prometheus::BuildCounter()
                      .Name("ghost_generation_text_bytes_total")
                      .Help("Bytes of generated text streamed to clients.")
                      .Register(*registry_)),
      request_success_(prometheus::BuildCounter()
                           .Name("ghost_request_success_total")
                           .Help("Finished Generate requests by finish reason.")
                           .Register(*registry_)),
      time_to_first_token_(prometheus::BuildHistogram()
                               .Name("ghost_time_to_first_token_seconds")
                               .Help("Time from request arrival to its first generated token.")
                               .Register(*registry_)),
      inter_token_latency_(prometheus::BuildHistogram()
                               .Name("ghost_inter_token_latency_seconds")
                               .Help("Time between consecutive generated tokens of a request.")
                               .Register(*registry_)),
      e2e_request_latency_(prometheus::BuildHistogram()
                               .Name("ghost_e2e_request_latency_seconds")
                               .Help("Time from request arrival to its last message.")
                               .Register(*registry_)),
      request_queue_time_(prometheus::BuildHistogram()
                              .Name("ghost_request_queue_time_seconds")
                              .Help("Time a request waited before its first forward step.")
                              .Register(*registry_)),
      requests_running_(prometheus::BuildGauge()
                            .Name("ghost_num_requests_running")
                            .Help("Generate requests currently streaming.")
                            .Register(*registry_)),
      grpc_handled_(prometheus::BuildCounter()
                        .Name("grpc_server_handled_total")
                        .Help("RPCs completed on the server, by method and status code.")
                        .Register(*registry_)),
      grpc_handling_seconds_(prometheus::BuildHistogram()
                                 .Name("grpc_server_handling_seconds")
                                 .Help("Time from the start of an RPC to its status.")
                                 .Register(*registry_)),
      http_requests_(prometheus::BuildCounter()
                         .Name("ghost_http_requests_total")
                         .Help("HTTP requests completed, by route and status code.")
                         .Register(*registry_)),
      http_request_seconds_(prometheus::BuildHistogram()
                                .Name("ghost_http_request_duration_seconds")
                                .Help("Time from an HTTP request's arrival to its last byte.")
                                .Register(*registry_)),
      unauthenticated_rpcs_(prometheus::BuildCounter()
                                .Name("ghost_unauthenticated_rpcs_total")
                                .Help("RPCs without a valid bearer token while one is configured "
                                      "(health probes included); not broken down by method.")
                                .Register(*registry_)
                                .Add({})) {
  prometheus::BuildGauge()
      .Name("ghost_build_info")
      .Help("Build information; the value is always 1.")
      .Register(*registry_)
      .Add({{"version", GHOST_VERSION},
            {"cpu_isa", CpuIsaName()},
            {"cuda_compiled", CudaCompiled() ? "true" : "false"},
            {"cuda_runtime", CudaRuntimeLabel()},
            {"cuda_device", CudaDeviceLabel()}})
      .Set(1);
}

ModelMetrics& ServerMetrics::ForModel(const std::string& model_name, Api api) {
  absl::MutexLock lock(&mu_);
  auto& slot = models_[{model_name, api}];
  if (slot == nullptr) {
    const prometheus::Labels labels{{"api", ApiName(api)}, {"model_name", model_name}};
    slot.reset(new ModelMetrics{prompt_tokens_.Add(labels), generation_tokens_.Add(labels),
                                text_bytes_.Add(labels),
                                time_to_first_token_.Add(labels, LatencyBuckets()),
                                inter_token_latency_.Add(labels, LatencyBuckets()),
                                e2e_request_latency_.Add(labels, LatencyBuckets()),
                                request_queue_time_.Add(labels, LatencyBuckets()),
                                requests_running_.Add(labels), request_success_, model_name, api});
  }
  return *slot;
}

void ServerMetrics::CountRpc(std::string_view service, std::string_view method, const char* code,
                             double seconds) {
  const prometheus::Labels labels{{"grpc_service", std::string(service)},
                                  {"grpc_method", std::string(method)}};
  prometheus::Labels with_code = labels;
  with_code.emplace("grpc_code", code);
  grpc_handled_.Add(with_code).Increment();
  grpc_handling_seconds_.Add(labels, LatencyBuckets()).Observe(seconds);
}

void ServerMetrics::CountHttpRequest(std::string_view route, int code, double seconds) {
  const prometheus::Labels labels{{"route", std::string(route)}};
  prometheus::Labels with_code = labels;
  with_code.emplace("code", absl::StrCat(code));
  http_requests_.Add(with_code).Increment();
  http_request_seconds_.Add(labels, LatencyBuckets()).Observe(seconds);
}

void ServerMetrics::AddCollectable(const std::shared_ptr<prometheus::Collectable>& collectable) {
  exposer_->RegisterCollectable(collectable);
}

absl::StatusOr<int> ServerMetrics::Serve(const std::string& bind_address) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(bind_address);
  } catch (const std::exception& e) {
    // prometheus-cpp reports a busy port by throwing; keep it inside this module.
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", bind_address, ": ", e.what(),
                     " (the port is in use, by another server?); choose another with "
                     "--metrics_port"));
  }
  exposer_->RegisterCollectable(registry_);
  const std::vector<int> ports = exposer_->GetListeningPorts();
  if (ports.empty()) return absl::InternalError("metrics exposer bound no port");
  return ports.front();
}

}  // namespace ghost::server
