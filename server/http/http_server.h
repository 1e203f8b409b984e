// The OpenAI-compatible HTTP front end: GET /v1/models (and /v1/models/{id}), POST
// /v1/completions, POST /v1/chat/completions (JSON, or Server-Sent Events with "stream": true),
// and GET /health. It shares the gRPC services' context: the registry and executors, the bearer
// tokens, the admission (the executors' queues, the stream tracker's drain) and the metrics
// (api="http"). httplib stays behind this header.
#ifndef GHOST_SERVER_HTTP_HTTP_SERVER_H_
#define GHOST_SERVER_HTTP_HTTP_SERVER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/service_context.h"

namespace ghost::server::http {

inline constexpr std::size_t kDefaultMaxBodyBytes = 4 << 20;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 picks a free port
  // Larger request bodies are refused with 413 before they are read whole.
  std::size_t max_body_bytes = kDefaultMaxBodyBytes;
  // Connections served at once: a streaming request holds its connection's thread until it
  // ends, so this bounds the streams in flight over HTTP; more connections wait for a thread.
  int threads = 64;
  // True while the server takes requests (the default model loaded, not draining): /health
  // answers 200 then, 503 otherwise.
  std::function<bool()> ready;
};

class HttpServer {
 public:
  // Binds host:port and serves on threads of its own. UNAVAILABLE when the port cannot be bound.
  // `ctx` must outlive the server. Ignores SIGPIPE process-wide: a write to a client that went
  // away must fail, not kill the server.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           const ServiceContext& ctx);
  virtual ~HttpServer() = default;

  virtual int port() const = 0;
  // Stops accepting connections, ends the idle ones and joins the threads; requests in flight
  // must have ended (the stream tracker's drain) or they are cut. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace ghost::server::http

#endif  // GHOST_SERVER_HTTP_HTTP_SERVER_H_
