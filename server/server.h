// ghostserve as a library: the gRPC server, its services, health, reflection and metrics.
// main.cc only parses flags and waits for a signal; tests run the same class in-process.
#ifndef GHOST_SERVER_SERVER_H_
#define GHOST_SERVER_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/runtime/request_defaults.h"
#include "server/tls.h"

namespace ghost::server {

inline constexpr int kAnyHttpPort = -1;

struct ServerOptions {
  // Loopback unless widened on purpose ("0.0.0.0", "::"): the server is not on the network by
  // default. Without admin_token, admin RPCs are taken from loopback peers only anyway.
  std::string host = "127.0.0.1";
  int port = 50051;  // 0 picks a free port
  std::string metrics_host = "127.0.0.1";
  int metrics_port = 9464;  // 0 picks a free port
  // The OpenAI-compatible HTTP API, on `host`: 0 turns it off, kAnyHttpPort picks a free port.
  int http_port = 8080;
  std::size_t http_max_body_bytes = 4 << 20;  // larger bodies get 413
  // Model directories are imported from these roots; the server never writes into them.
  std::vector<std::string> model_roots = {"./models"};
  // List every directory directly under a root that holds a config.json without ImportModel
  // (RegistryOptions::discover_models).
  bool discover_models = true;
  // Served when a request names no model; imported from the roots when not registered. The
  // shipped default, as ghostserve's --default_model (tests name ghost-tiny, the fast one).
  std::string default_model = "ghost-small";
  // Where the server writes, so that nothing lands in a source tree: <data_dir>/models, the
  // root that receives compression outputs (created when missing, and served as the last
  // model root), and <data_dir>/registry unless registry_dir says otherwise. Required;
  // ghostserve defaults it to DefaultDataDir().
  std::string data_dir;
  // registry.json (the registered models), its lock and the compression jobs; one server per
  // directory. Empty: <data_dir>/registry.
  std::string registry_dir;
  // TLS or mutual TLS on the gRPC port (--tls_cert, --tls_key, --tls_client_ca); /metrics stays
  // plain HTTP.
  TlsOptions tls;
  std::string auth_token;   // empty: no authentication
  std::string admin_token;  // empty: admin RPCs need only what auth_token asks
  absl::Duration grace_period = absl::Seconds(30);
  int max_queued_requests = 64;
  // Longest prompt text accepted, in bytes (RequestLimits::max_prompt_bytes).
  std::size_t max_prompt_bytes = kDefaultMaxPromptBytes;
  // How every model's KV cache stores keys and values: "fp32", "bf16", or "auto" (bf16 unless
  // the model's weights are fp32; Model::default_kv_dtype).
  std::string kv_cache_dtype = "auto";
  // Where models load unless LoadModel names a device: "cpu", "cuda" or "cuda:N".
  std::string device = "cpu";
  // Memory of each loaded model's KV cache (ExecutorOptions::kv_cache_mib): it bounds the
  // context served, whatever a model's config.json claims.
  int kv_cache_mib = 256;
  // Compression jobs running at once, on threads of their own (not the inference executors).
  int compression_workers = 1;
  // Layer streaming: every model's default weight budget in MiB (0: all weights resident; a
  // LoadModel may set its own) and the slots streamed layers rotate through (>= 2). Layer files
  // go to <registry dir>/layer-cache.
  std::int64_t weight_budget_mb = 0;
  int stream_slots = 2;

  absl::Status Validate() const;
};

// $XDG_DATA_HOME/ghostserve, or ~/.local/share/ghostserve where XDG_DATA_HOME is unset or not
// absolute (the XDG base directory convention). FAILED_PRECONDITION when HOME is not set either.
absl::StatusOr<std::string> DefaultDataDir();

class GhostServer {
 public:
  // Opens the registry (importing the default model from the roots when it is not
  // registered), binds both ports, starts serving, and loads the default model and the models
  // that were ready at the last stop in the background: health "" is SERVING at once,
  // "ghost.v1.Inference" once the default model is ready.
  static absl::StatusOr<std::unique_ptr<GhostServer>> Start(const ServerOptions& options);
  virtual ~GhostServer() = default;

  virtual int port() const = 0;
  virtual int metrics_port() const = 0;
  // The bound HTTP port; 0 when HTTP is off.
  virtual int http_port() const = 0;
  // Blocks until the default model has loaded (true) or failed (false).
  virtual bool WaitUntilReady() = 0;
  // Graceful stop: readiness ("ghost.v1.Inference", HTTP /health) NOT_SERVING at once while
  // liveness ("") stays SERVING, new Generate calls (gRPC and HTTP) get UNAVAILABLE, in-flight
  // streams may finish within the grace period; those still running then end with UNAVAILABLE
  // "server shutting down", and everything stops. Idempotent.
  virtual void Shutdown() = 0;
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_SERVER_H_
