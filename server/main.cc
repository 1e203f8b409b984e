// ghostserve: parses flags, starts the server, waits for SIGTERM/SIGINT, drains, exits 0.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "server/server.h"

ABSL_FLAG(int, port, 50051, "gRPC port (0 picks a free one)");
ABSL_FLAG(std::string, host, "127.0.0.1",
          "address the gRPC and metrics servers bind: loopback by default; 0.0.0.0 (or ::) opens "
          "them to the network, where admin RPCs then need --admin_token");
ABSL_FLAG(int, metrics_port, 9464, "Prometheus /metrics port (0 picks a free one)");
ABSL_FLAG(int, http_port, 8080,
          "OpenAI-compatible HTTP API port, on --host (0 turns it off, -1 picks a free one)");
ABSL_FLAG(int64_t, http_max_body_bytes, 4 << 20,
          "largest HTTP request body accepted, in bytes (larger: 413)");
ABSL_FLAG(std::vector<std::string>, model_root, {"./models"},
          "directory holding model directories, which the server only reads; repeat the flag "
          "or separate with commas");
ABSL_FLAG(std::string, data_dir, "",
          "where the server writes: DATA_DIR/models receives compression outputs (and is served "
          "as a model root), DATA_DIR/registry holds the registry (default: "
          "$XDG_DATA_HOME/ghostserve, or ~/.local/share/ghostserve)");
ABSL_FLAG(std::string, default_model, ghost::server::ServerOptions().default_model,
          "model loaded at start and used when a request names none");
ABSL_FLAG(std::string, auth_token, "",
          "when set, every RPC needs 'authorization: Bearer <token>' (env GHOST_AUTH_TOKEN "
          "is used when the flag is empty)");
ABSL_FLAG(std::string, registry_dir, "",
          "directory for the model registry (registry.json, its lock file and the compression "
          "jobs; default DATA_DIR/registry); created when missing, and only one server may use "
          "it at a time");
ABSL_FLAG(std::string, admin_token, "",
          "when set, ImportModel, LoadModel, UnloadModel, DeleteModel, Compress, CancelOperation "
          "and DeleteOperation need 'authorization: Bearer <admin token>' (env GHOST_ADMIN_TOKEN "
          "is used when the flag is empty); when not, they are refused from other hosts");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain: serve gRPC over TLS (with --tls_key); /metrics stays HTTP");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificates: mutual TLS, every client must present a certificate they signed");
ABSL_FLAG(double, grace_period_s, 30, "seconds in-flight streams get to finish on SIGTERM");
ABSL_FLAG(int, max_queued_requests, 64,
          "requests per model that may wait beyond the running batch's free slots before "
          "RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, max_prompt_bytes, ghost::kDefaultMaxPromptBytes,
          "longest prompt text (and Evaluate text) accepted, in bytes (longer: "
          "INVALID_ARGUMENT)");
ABSL_FLAG(std::string, kv_cache_dtype, "auto",
          "how the KV cache stores keys and values: bf16 (half the memory and attention reads), "
          "fp32, or auto (bf16 unless the model's weights are fp32)");
ABSL_FLAG(std::string, device, "cpu",
          "where models load unless LoadModel names a device: cpu, cuda or cuda:N (a model that "
          "cannot load there fails alone; the others keep serving)");
ABSL_FLAG(int64_t, weight_budget_mb, 0,
          "MiB of weights each model keeps resident (0: all); the other decoder layers stream "
          "from a layer file through --stream_slots slots. LoadModel may set a model's own");
ABSL_FLAG(int, stream_slots, 2, "slot buffers streamed layers rotate through (at least 2)");
ABSL_FLAG(int, kv_cache_mib, 256,
          "memory of each loaded model's KV cache, in MiB; a model serves the context it holds "
          "(its own context length or fewer positions), and a budget holding no block fails the "
          "load with RESOURCE_EXHAUSTED");
ABSL_FLAG(int, compression_workers, 1,
          "compression jobs run at once (each also uses the matrix thread pool)");

namespace {

// absl keeps only the last occurrence of a flag; --model_root is documented as repeatable, so
// gather every occurrence from argv (each may also be a comma-separated list).
std::vector<std::string> AllModelRoots(int argc, char** argv) {
  std::vector<std::string> roots;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    std::string value;
    if (absl::StartsWith(arg, "--model_root=")) {
      value = arg.substr(13);
    } else if (arg == "--model_root" && i + 1 < argc) {
      value = argv[++i];
    } else {
      continue;
    }
    for (auto part : absl::StrSplit(value, ',', absl::SkipEmpty())) roots.emplace_back(part);
  }
  return roots.empty() ? absl::GetFlag(FLAGS_model_root) : roots;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Ghost Serve: LLM inference over gRPC and HTTP.\nUsage: ghostserve [flags]");
  // Signals are taken by sigwait below; block them before any thread starts so that no
  // worker thread receives them instead.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::ParseCommandLine(argc, argv);
  ghost::server::ServerOptions options;
  options.host = absl::GetFlag(FLAGS_host);
  options.metrics_host = options.host;
  options.port = absl::GetFlag(FLAGS_port);
  options.metrics_port = absl::GetFlag(FLAGS_metrics_port);
  options.http_port = absl::GetFlag(FLAGS_http_port);
  options.http_max_body_bytes =
      static_cast<std::size_t>(std::max<int64_t>(0, absl::GetFlag(FLAGS_http_max_body_bytes)));
  options.model_roots = AllModelRoots(argc, argv);
  options.default_model = absl::GetFlag(FLAGS_default_model);
  options.auth_token = absl::GetFlag(FLAGS_auth_token);
  if (options.auth_token.empty()) {
    if (const char* env = std::getenv("GHOST_AUTH_TOKEN")) options.auth_token = env;
  }
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (options.data_dir.empty()) {
    absl::StatusOr<std::string> data_dir = ghost::server::DefaultDataDir();
    if (!data_dir.ok()) {
      std::fprintf(stderr, "ghostserve: %s\n", data_dir.status().ToString().c_str());
      return 1;
    }
    options.data_dir = *data_dir;
  }
  options.registry_dir = absl::GetFlag(FLAGS_registry_dir);
  options.admin_token = absl::GetFlag(FLAGS_admin_token);
  if (options.admin_token.empty()) {
    if (const char* env = std::getenv("GHOST_ADMIN_TOKEN")) options.admin_token = env;
  }
  options.tls.cert = absl::GetFlag(FLAGS_tls_cert);
  options.tls.key = absl::GetFlag(FLAGS_tls_key);
  options.tls.client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  options.grace_period = absl::Seconds(absl::GetFlag(FLAGS_grace_period_s));
  options.max_queued_requests = absl::GetFlag(FLAGS_max_queued_requests);
  options.max_prompt_bytes =
      static_cast<std::size_t>(std::max<int64_t>(0, absl::GetFlag(FLAGS_max_prompt_bytes)));
  options.kv_cache_dtype = absl::GetFlag(FLAGS_kv_cache_dtype);
  options.kv_cache_mib = absl::GetFlag(FLAGS_kv_cache_mib);
  options.compression_workers = absl::GetFlag(FLAGS_compression_workers);
  options.device = absl::GetFlag(FLAGS_device);
  options.weight_budget_mb = absl::GetFlag(FLAGS_weight_budget_mb);
  options.stream_slots = absl::GetFlag(FLAGS_stream_slots);

  auto server = ghost::server::GhostServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "ghostserve: %s\n", server.status().ToString().c_str());
    return 1;
  }
  const char* tls = options.tls.cert.empty()        ? ""
                    : options.tls.client_ca.empty() ? " (TLS)"
                                                    : " (mutual TLS)";
  std::fprintf(stderr, "ghostserve: gRPC on %s:%d%s, metrics on http://%s:%d/metrics%s\n",
               options.host.c_str(), (*server)->port(), tls, options.host.c_str(),
               (*server)->metrics_port(), options.auth_token.empty() ? "" : ", auth on");
  if ((*server)->http_port() != 0) {
    std::fprintf(stderr, "ghostserve: OpenAI-compatible HTTP on http://%s:%d/v1\n",
                 options.host.c_str(), (*server)->http_port());
  }
  if ((*server)->WaitUntilReady()) {
    std::fprintf(stderr, "ghostserve: model %s ready\n", options.default_model.c_str());
  }

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::fprintf(stderr, "ghostserve: %s received, draining (grace %.0f s)\n",
               signal_number == SIGTERM ? "SIGTERM" : "SIGINT",
               absl::GetFlag(FLAGS_grace_period_s));
  (*server)->Shutdown();
  std::fprintf(stderr, "ghostserve: stopped\n");
  return 0;
}
