#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "engine/backend/kv_cache.h"
#include "engine/common/file.h"
#include "engine/common/status_macros.h"
#include "engine/compressor/model_compressor.h"
#include "engine/jobs/job_manager.h"
#include "engine/registry/registry.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/auth.h"
#include "server/compression_gauges.h"
#include "server/compression_service.h"
#include "server/http/http_server.h"
#include "server/inference_service.h"
#include "server/metrics.h"
#include "server/model_gauges.h"
#include "server/models_service.h"
#include "server/process_gauges.h"
#include "server/rpc_metrics.h"
#include "server/service_context.h"
#include "server/tls.h"

namespace ghost::server {
namespace {

constexpr char kReadyService[] = "ghost.v1.Inference";
// After the grace period, how long the streams still in flight get to deliver the UNAVAILABLE
// status they are aborted with (one engine step and the write in flight) before gRPC cancels
// them. A client that reads nothing gets the cancellation.
constexpr absl::Duration kAbortDelivery = absl::Seconds(5);

// Conservative HTTP/2 limits: the packaged gRPC 1.51 lacks later fixes for stream-reset and
// HPACK abuse, so cap what a single peer can make the server hold.
void ApplyTransportLimits(grpc::ServerBuilder& builder, std::size_t max_prompt_bytes) {
  // gRPC sets SO_REUSEPORT by default on Linux: a second server on the same port would start
  // and silently take half the connections. Without it, a taken port fails the bind.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 256);
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, 16 * 1024);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, 15 * 60 * 1000);
  // A request carries one prompt text (or one text to evaluate) and small fields: 4 MiB, or
  // room for a --max_prompt_bytes text above that, so that raising the flag raises the bound.
  constexpr std::size_t kDefaultMaxReceive = 4 << 20;
  constexpr std::size_t kRoomForOtherFields = 64 << 10;
  constexpr std::size_t kLargestLimit = std::numeric_limits<int>::max();
  const std::size_t wanted = max_prompt_bytes >= kLargestLimit - kRoomForOtherFields
                                 ? kLargestLimit
                                 : max_prompt_bytes + kRoomForOtherFields;
  builder.SetMaxReceiveMessageSize(static_cast<int>(std::max(kDefaultMaxReceive, wanted)));
  builder.SetMaxSendMessageSize(16 * 1024 * 1024);
}

class GhostServerImpl final : public GhostServer {
 public:
  explicit GhostServerImpl(const ServerOptions& options)
      : options_(options), auth_(options.auth_token, options.admin_token) {}
  ~GhostServerImpl() override { Shutdown(); }

  absl::Status Init();
  int port() const override { return port_; }
  int metrics_port() const override { return metrics_port_; }
  int http_port() const override { return http_ == nullptr ? 0 : http_->port(); }
  bool WaitUntilReady() override {
    loaded_.WaitForNotification();
    return ready_;
  }
  void Shutdown() override;

 private:
  // "ghost.v1.Inference" (and HTTP /health) is SERVING exactly while the default model is
  // loaded and the server is not draining.
  bool Ready() ABSL_EXCLUSIVE_LOCKS_REQUIRED(health_mu_) {
    return !draining_ && registry_->GetReady(options_.default_model).ok();
  }
  void RefreshReadiness() {
    absl::MutexLock lock(&health_mu_);
    server_->GetHealthCheckService()->SetServingStatus(kReadyService, Ready());
  }
  const ServerOptions options_;
  Authenticator auth_;
  ServerMetrics metrics_;
  StreamTracker streams_;
  std::unique_ptr<ModelRegistry> registry_;
  // Reads the registry at scrape time; declared after it so it goes first.
  std::shared_ptr<ModelGaugeCollector> model_gauges_;
  // Compression jobs register their models in the registry, so they stop before it does.
  std::unique_ptr<jobs::CompressJobManager> jobs_;
  std::shared_ptr<CompressionJobCollector> job_gauges_;
  std::shared_ptr<ProcessCollector> process_gauges_ = std::make_shared<ProcessCollector>();
  ServiceContext ctx_;
  std::unique_ptr<InferenceService> inference_;
  std::unique_ptr<ModelsService> models_;
  std::unique_ptr<CompressionService> compression_;
  std::unique_ptr<OperationsService> operations_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<http::HttpServer> http_;  // null when --http_port is 0
  absl::Notification loaded_;               // the default model's first load has ended
  bool ready_ = false;
  absl::Mutex health_mu_;  // orders readiness updates with the start of the drain
  bool draining_ ABSL_GUARDED_BY(health_mu_) = false;
  bool shut_down_ = false;
  int port_ = 0;
  int metrics_port_ = 0;
};

absl::Status GhostServerImpl::Init() {
  // First: a bad certificate file fails the start before anything else is set up.
  GHOST_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                         ServerCredentials(options_.tls));
  // Everything the server writes goes under the data directory: compression outputs into a
  // model root of its own (after the others, which the server only reads), and the registry.
  const std::string output_root = JoinPath(options_.data_dir, "models");
  const std::string registry_dir = options_.registry_dir.empty()
                                       ? JoinPath(options_.data_dir, "registry")
                                       : options_.registry_dir;
  std::error_code error;
  std::filesystem::create_directories(output_root, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("--data_dir: cannot create ", output_root, ": ", error.message()));
  }
  RegistryOptions registry_options;
  registry_options.model_roots = options_.model_roots;
  registry_options.discover_models = options_.discover_models;
  if (std::none_of(options_.model_roots.begin(), options_.model_roots.end(),
                   [&](const std::string& root) {
                     return std::filesystem::equivalent(root, output_root, error);
                   })) {
    registry_options.model_roots.push_back(output_root);
  }
  registry_options.registry_dir = registry_dir;
  registry_options.executor.max_queued_requests = options_.max_queued_requests;
  registry_options.model.weight_budget_bytes = options_.weight_budget_mb << 20;
  registry_options.model.stream_slots = options_.stream_slots;
  registry_options.executor.kv_cache_mib = options_.kv_cache_mib;
  if (options_.kv_cache_dtype != "auto") {
    // Validate() has parsed it once already.
    registry_options.executor.kv_cache_dtype = *ParseKvDtype(options_.kv_cache_dtype);
  }
  registry_options.device = *ParseDeviceSelection(options_.device);  // Validate() parsed it
  GHOST_ASSIGN_OR_RETURN(registry_, ModelRegistry::Create(registry_options));
  // The default model is registered on first use; one missing from the roots is a
  // configuration error, reported at start.
  if (auto info = registry_->Get(options_.default_model); absl::IsNotFound(info.status())) {
    auto imported =
        registry_->Import(options_.default_model, options_.default_model, ModelOrigin::kImported);
    if (!imported.ok()) {
      return absl::Status(imported.status().code(),
                          absl::StrCat("default model: ", imported.status().message()));
    }
  }

  jobs::JobManagerOptions job_options;
  job_options.registry = registry_.get();
  job_options.registry_dir = registry_dir;
  job_options.output_root = output_root;
  job_options.workers = options_.compression_workers;
  job_options.compress = compress::CompressModelDirectory;
  GHOST_ASSIGN_OR_RETURN(jobs_, jobs::CompressJobManager::Create(job_options));

  GHOST_ASSIGN_OR_RETURN(metrics_port_, metrics_.Serve(absl::StrCat(options_.metrics_host, ":",
                                                                    options_.metrics_port)));
  model_gauges_ = std::make_shared<ModelGaugeCollector>(registry_.get());
  metrics_.AddCollectable(model_gauges_);
  job_gauges_ = std::make_shared<CompressionJobCollector>(jobs_.get());
  metrics_.AddCollectable(job_gauges_);
  metrics_.AddCollectable(process_gauges_);

  ctx_ = ServiceContext{registry_.get(),
                        &metrics_,
                        &auth_,
                        &streams_,
                        options_.default_model,
                        RequestLimits{.max_prompt_bytes = options_.max_prompt_bytes},
                        [this] { RefreshReadiness(); }};
  inference_ = std::make_unique<InferenceService>(ctx_);
  models_ = std::make_unique<ModelsService>(ctx_);
  compression_ = std::make_unique<CompressionService>(ctx_, *jobs_);
  operations_ = std::make_unique<OperationsService>(ctx_, *jobs_);

  if (options_.http_port != 0) {
    http::HttpServerOptions http_options;
    http_options.host = options_.host;
    http_options.port = options_.http_port == kAnyHttpPort ? 0 : options_.http_port;
    http_options.max_body_bytes = options_.http_max_body_bytes;
    http_options.ready = [this] {
      absl::MutexLock lock(&health_mu_);
      return Ready();
    };
    GHOST_ASSIGN_OR_RETURN(http_, http::HttpServer::Start(http_options, ctx_));
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat(options_.host, ":", options_.port), credentials, &port_);
  ApplyTransportLimits(builder, options_.max_prompt_bytes);
  builder.RegisterService(inference_.get());
  builder.RegisterService(models_.get());
  builder.RegisterService(compression_.get());
  builder.RegisterService(operations_.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<RpcMetricsInterceptorFactory>(
      metrics_, auth_,
      std::vector<std::string>{ghost::v1::Inference::service_full_name(),
                               ghost::v1::Models::service_full_name(),
                               ghost::v1::Compression::service_full_name(),
                               google::longrunning::Operations::service_full_name(),
                               grpc::health::v1::Health::service_full_name(),
                               "grpc.reflection.v1alpha.ServerReflection"}));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve gRPC on ", options_.host, ":", options_.port,
                     ": the port is in use (another server?) or the address is not this "
                     "host's; choose another with --port / --host"));
  }
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  health->SetServingStatus("", true);
  health->SetServingStatus(kReadyService, false);
  // Joins (or finds finished) the load queued when the default model was ready at the last
  // stop, rather than loading it twice.
  registry_->LoadAsync(
      options_.default_model, LoadMode::kIfNotLoaded, [this](absl::StatusOr<ModelInfo> loaded) {
        if (loaded.ok()) {
          ready_ = true;
          RefreshReadiness();
        } else {
          std::fprintf(stderr, "ghostserve: default model %s failed to load: %s\n",
                       options_.default_model.c_str(), loaded.status().ToString().c_str());
        }
        loaded_.Notify();
      });
  return absl::OkStatus();
}

void GhostServerImpl::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (server_ == nullptr) return;
  // Readiness probes see NOT_SERVING while in-flight streams drain, and new streams are refused.
  // Liveness ("") stays SERVING: the process is healthy, and an orchestrator that saw it fail
  // would kill the process mid-drain.
  {
    absl::MutexLock lock(&health_mu_);
    draining_ = true;
    server_->GetHealthCheckService()->SetServingStatus(kReadyService, false);
  }
  streams_.BeginDrain();
  if (!streams_.WaitIdle(absl::Now() + options_.grace_period)) {
    // Streams still running end with a status that says why and invites a retry elsewhere,
    // rather than the transport's "Cancelling all calls" or a broken pipe.
    const int cut = streams_.in_flight();
    streams_.AbortAll(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                   "server shutting down: the stream outlived the grace period; "
                                   "retry on another replica"));
    std::fprintf(stderr, "ghostserve: grace period over, ended %d streams with UNAVAILABLE\n", cut);
    streams_.WaitIdle(absl::Now() + kAbortDelivery);
  }
  // The streams are over (HTTP ones hold a thread each, which Stop joins).
  if (http_ != nullptr) http_->Stop();
  // Fails queued loads and waits for the one running, so that pending LoadModel calls end;
  // loaded versions stay alive while streams still hold them.
  // Running compression jobs are stopped (they end FAILED, interrupted) and pending
  // WaitOperation calls answered before the registry goes.
  jobs_->Shutdown();
  registry_->Shutdown();
  loaded_.WaitForNotification();
  // Cancels what is left: those streams finish, release their models, and the executors stop.
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
}

}  // namespace

absl::Status ServerOptions::Validate() const {
  if (port < 0 || port > 65535) return absl::InvalidArgumentError("--port must be in [0, 65535]");
  if (metrics_port < 0 || metrics_port > 65535) {
    return absl::InvalidArgumentError("--metrics_port must be in [0, 65535]");
  }
  if (http_port < kAnyHttpPort || http_port > 65535) {
    return absl::InvalidArgumentError("--http_port must be in [-1, 65535]");
  }
  if (http_max_body_bytes < 1) {
    return absl::InvalidArgumentError("--http_max_body_bytes must be >= 1");
  }
  if (model_roots.empty()) return absl::InvalidArgumentError("at least one --model_root is needed");
  if (default_model.empty()) return absl::InvalidArgumentError("--default_model is empty");
  if (data_dir.empty()) return absl::InvalidArgumentError("--data_dir is empty");
  GHOST_RETURN_IF_ERROR(tls.Validate());
  if (!admin_token.empty() && admin_token == auth_token) {
    return absl::InvalidArgumentError("--admin_token must differ from --auth_token");
  }
  if (grace_period < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--grace_period_s must be >= 0");
  }
  if (compression_workers < 1) {
    return absl::InvalidArgumentError("--compression_workers must be >= 1");
  }
  if (max_queued_requests < 1) {
    return absl::InvalidArgumentError("--max_queued_requests must be >= 1");
  }
  if (max_prompt_bytes < 1) return absl::InvalidArgumentError("--max_prompt_bytes must be >= 1");
  if (absl::StatusOr<DeviceSelection> parsed = ParseDeviceSelection(device); !parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--device: ", parsed.status().message()));
  }
  if (weight_budget_mb < 0 || weight_budget_mb > (std::int64_t{1} << 40)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--weight_budget_mb must be 0 (all resident) or a size in MiB, got ", weight_budget_mb));
  }
  if (stream_slots < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("--stream_slots must be at least 2, got ", stream_slots));
  }
  if (kv_cache_mib < 1) return absl::InvalidArgumentError("--kv_cache_mib must be >= 1");
  if (kv_cache_dtype != "auto" && !ParseKvDtype(kv_cache_dtype).ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--kv_cache_dtype must be auto, fp32 or bf16, got \"", kv_cache_dtype, "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DefaultDataDir() {
  const char* data_home = std::getenv("XDG_DATA_HOME");
  if (data_home != nullptr && data_home[0] == '/') return JoinPath(data_home, "ghostserve");
  const char* home = std::getenv("HOME");
  if (home == nullptr || home[0] != '/') {
    return absl::FailedPreconditionError(
        "neither XDG_DATA_HOME nor HOME is an absolute path; give --data_dir");
  }
  return JoinPath(home, ".local/share/ghostserve");
}

absl::StatusOr<std::unique_ptr<GhostServer>> GhostServer::Start(const ServerOptions& options) {
  GHOST_RETURN_IF_ERROR(options.Validate());
  auto server = std::make_unique<GhostServerImpl>(options);
  GHOST_RETURN_IF_ERROR(server->Init());
  return server;
}

}  // namespace ghost::server
