#include "server/http/http_server.h"

#include <httplib.h>

#include <csignal>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "server/http/api_error.h"
#include "server/http/generation_call.h"
#include "server/http/openai_request.h"
#include "server/http/openai_response.h"

namespace ghost::server::http {
namespace {

using Json = nlohmann::json;

// While a stream waits for the engine (queued, a long prefill), a comment line this often keeps
// proxies from timing the connection out and finds a client that has gone away.
constexpr absl::Duration kKeepAliveInterval = absl::Seconds(5);

// The routes, as the `route` label of ghost_http_requests_total: a closed set.
constexpr std::string_view kModelsRoute = "/v1/models";
constexpr std::string_view kModelRoute = "/v1/models/{id}";
constexpr std::string_view kCompletionsRoute = "/v1/completions";
constexpr std::string_view kChatRoute = "/v1/chat/completions";
constexpr std::string_view kHealthRoute = "/health";

std::string_view RouteLabel(const std::string& path) {
  for (std::string_view route : {kModelsRoute, kCompletionsRoute, kChatRoute, kHealthRoute}) {
    if (path == route) return route;
  }
  if (path.starts_with("/v1/models/")) return kModelRoute;
  return "unknown";
}

// When the request being served on this thread arrived (httplib serves a request on one thread
// from routing to its logger); unset for one refused before routing (413, a malformed request
// line), which has no duration worth recording.
thread_local std::optional<absl::Time> request_arrival;

void SendError(httplib::Response& res, const ApiError& error) {
  res.status = error.http_status;
  if (error.http_status == 429) {
    // The executor's queue is full: a short wait usually finds room.
    res.set_header("Retry-After", "1");
  }
  res.set_content(ErrorBody(error), "application/json");
}

void SendStatus(httplib::Response& res, const absl::Status& status) {
  SendError(res, FromStatus(status));
}

bool IsJson(const httplib::Request& req) {
  const std::string type = req.get_header_value("Content-Type");
  const absl::string_view media_type = absl::string_view(type).substr(0, type.find(';'));
  return absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(media_type), "application/json");
}

// A streamed response: the call, and what turns its chunks into events. The provider and the
// releaser share it; the last one to let go ends the call (cancelling it if unfinished).
struct Stream {
  OpenAiRequest request;
  std::unique_ptr<GenerationCall> call;
  std::optional<ResponseFormatter> formatter;
};

// The error a final chunk that is not a completion stands for.
absl::Status FinalError(const GenerationChunk& chunk, const GenerationCall& call) {
  if (chunk.finish_reason == FinishReason::kError) return chunk.error;
  const absl::Status aborted = call.abort_status();
  return aborted.ok() ? absl::UnavailableError("the request was cancelled") : aborted;
}

bool Completed(const GenerationChunk& chunk) {
  return chunk.finish_reason == FinishReason::kStop || chunk.finish_reason == FinishReason::kLength;
}

class HttpServerImpl final : public HttpServer {
 public:
  HttpServerImpl(const HttpServerOptions& options, const ServiceContext& ctx)
      : options_(options), ctx_(ctx), created_(absl::ToUnixSeconds(absl::Now())) {}
  ~HttpServerImpl() override { Stop(); }

  absl::Status Init();
  int port() const override { return port_; }
  void Stop() override {
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();
  }

 private:
  bool Authorized(const httplib::Request& req, httplib::Response& res) const;
  void Health(httplib::Response& res) const;
  void ListModels(const httplib::Request& req, httplib::Response& res) const;
  void GetModel(const httplib::Request& req, httplib::Response& res) const;
  void Generate(Endpoint endpoint, const httplib::Request& req, httplib::Response& res) const;
  void Count(const httplib::Request& req, const httplib::Response& res) const;
  Json ModelObject(const std::string& name) const {
    return {{"id", name}, {"object", "model"}, {"created", created_}, {"owned_by", "ghostserve"}};
  }

  const HttpServerOptions options_;
  const ServiceContext& ctx_;
  const std::int64_t created_;  // models' "created": when this server started
  httplib::Server server_;
  std::thread thread_;
  absl::Notification listen_ended_;
  int port_ = 0;
};

absl::Status HttpServerImpl::Init() {
  std::signal(SIGPIPE, SIG_IGN);
  const int threads = options_.threads;
  server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_.set_payload_max_length(options_.max_body_bytes);
  server_.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
    request_arrival = absl::Now();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // httplib's own answers (404 for an unknown path, 413, 400 for a malformed request line) get
  // OpenAI's error shape too; the handlers' errors already have a body.
  server_.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string message = absl::StrCat("HTTP error ", res.status);
    if (res.status == 400) message = "malformed HTTP request";
    if (res.status == 404) message = absl::StrCat("no route ", req.method, " ", req.path);
    if (res.status == 413) message = "the request body is larger than --http_max_body_bytes";
    SendError(res, RequestError(res.status, message, ""));
  });
  server_.set_logger(
      [this](const httplib::Request& req, const httplib::Response& res) { Count(req, res); });

  server_.Get(std::string(kHealthRoute),
              [this](const httplib::Request&, httplib::Response& res) { Health(res); });
  server_.Get(std::string(kModelsRoute), [this](const httplib::Request& req,
                                                httplib::Response& res) { ListModels(req, res); });
  server_.Get(R"(/v1/models/(.+))",
              [this](const httplib::Request& req, httplib::Response& res) { GetModel(req, res); });
  server_.Post(std::string(kCompletionsRoute),
               [this](const httplib::Request& req, httplib::Response& res) {
                 Generate(Endpoint::kCompletions, req, res);
               });
  server_.Post(std::string(kChatRoute),
               [this](const httplib::Request& req, httplib::Response& res) {
                 Generate(Endpoint::kChatCompletions, req, res);
               });

  const bool bound = options_.port == 0 ? (port_ = server_.bind_to_any_port(options_.host)) > 0
                                        : server_.bind_to_port(options_.host, options_.port);
  if (!bound) {
    return absl::UnavailableError(absl::StrCat(
        "cannot serve HTTP on ", options_.host, ":", options_.port,
        ": the port is in use (another server?) or the address is not this host's; choose "
        "another with --http_port, or 0 to turn HTTP off"));
  }
  if (options_.port != 0) port_ = options_.port;
  thread_ = std::thread([this] {
    server_.listen_after_bind();
    listen_ended_.Notify();
  });
  // httplib's stop() does nothing until the listen loop has started, so a Stop() right after
  // Init() would leave the thread listening and the join waiting forever: return once it runs.
  while (!server_.is_running() &&
         !listen_ended_.WaitForNotificationWithTimeout(absl::Milliseconds(1))) {
  }
  return absl::OkStatus();
}

void HttpServerImpl::Count(const httplib::Request& req, const httplib::Response& res) const {
  // Callers without a valid token share one series, whatever they sent (as for gRPC).
  if (res.status == 401) {
    request_arrival.reset();
    ctx_.metrics->CountUnauthenticatedRpc();
    return;
  }
  const double seconds =
      request_arrival ? absl::ToDoubleSeconds(absl::Now() - *request_arrival) : 0.0;
  request_arrival.reset();
  ctx_.metrics->CountHttpRequest(RouteLabel(req.path), res.status, seconds);
}

bool HttpServerImpl::Authorized(const httplib::Request& req, httplib::Response& res) const {
  const std::string header = req.get_header_value("Authorization");
  const absl::Status status = ctx_.auth->CheckAuthorization(
      req.has_header("Authorization") ? std::optional<std::string_view>(header) : std::nullopt);
  if (status.ok()) return true;
  SendStatus(res, status);
  res.set_header("WWW-Authenticate", "Bearer");
  return false;
}

void HttpServerImpl::Health(httplib::Response& res) const {
  // Unauthenticated, like gRPC health: orchestrators probe it without credentials.
  const bool ready = options_.ready && options_.ready();
  res.status = ready ? 200 : 503;
  res.set_content(ready ? R"({"status":"ok"})" : R"({"status":"unavailable"})", "application/json");
}

void HttpServerImpl::ListModels(const httplib::Request& req, httplib::Response& res) const {
  if (!Authorized(req, res)) return;
  ctx_.registry->DiscoverModels();
  Json data = Json::array();
  for (const ModelInfo& info : ctx_.registry->List()) {
    if (info.state != ModelState::kFailed) data.push_back(ModelObject(info.name));
  }
  res.set_content(Json{{"object", "list"}, {"data", std::move(data)}}.dump(), "application/json");
}

void HttpServerImpl::GetModel(const httplib::Request& req, httplib::Response& res) const {
  if (!Authorized(req, res)) return;
  const auto info = ctx_.registry->Get(req.matches[1]);
  if (!info.ok()) return SendStatus(res, info.status());
  res.set_content(ModelObject(info->name).dump(), "application/json");
}

void HttpServerImpl::Generate(Endpoint endpoint, const httplib::Request& req,
                              httplib::Response& res) const {
  if (!Authorized(req, res)) return;
  if (!IsJson(req)) {
    return SendError(res, RequestError(415,
                                       "the request body must be JSON, sent with "
                                       "'Content-Type: application/json'",
                                       "unsupported_media_type"));
  }
  auto stream = std::make_shared<Stream>();
  absl::StatusOr<OpenAiRequest> request = ParseOpenAiRequest(endpoint, req.body);
  if (!request.ok()) return SendStatus(res, request.status());
  stream->request = *std::move(request);
  auto call = GenerationCall::Start(ctx_, stream->request.model, stream->request.generation,
                                    request_arrival.value_or(absl::Now()));
  if (!call.ok()) return SendStatus(res, call.status());
  stream->call = *std::move(call);
  stream->formatter.emplace(stream->request, stream->request.model,
                            stream->call->model().tokenizer());

  if (!stream->request.stream) {
    // The client waits for the whole response; the engine runs the request to its end.
    for (;;) {
      for (const GenerationChunk& chunk : stream->call->Next(absl::Seconds(1))) {
        if (!chunk.is_final()) {
          stream->formatter->Append(chunk);
          continue;
        }
        if (!Completed(chunk)) return SendStatus(res, FinalError(chunk, *stream->call));
        stream->formatter->Append(chunk);
        res.set_content(stream->formatter->Body(), "application/json");
        return;
      }
    }
  }

  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [stream](std::size_t, httplib::DataSink& sink) {
        const std::vector<GenerationChunk> chunks = stream->call->Next(kKeepAliveInterval);
        if (chunks.empty()) {
          // A comment line: SSE clients skip it. A failed write means the client has gone; the
          // releaser then ends the call, which cancels the request.
          return sink.write(": keep-alive\n\n", 15);
        }
        std::string events;
        bool final = false;
        for (const GenerationChunk& chunk : chunks) {
          if (chunk.is_final() && !Completed(chunk)) {
            events += ErrorEvent(ErrorBody(FromStatus(FinalError(chunk, *stream->call))));
          } else {
            events += stream->formatter->Events(chunk);
          }
          final = final || chunk.is_final();
        }
        if (!sink.write(events.data(), events.size())) return false;
        if (final) sink.done();
        return true;
      },
      [stream](bool) { stream->call.reset(); });
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                              const ServiceContext& ctx) {
  auto server = std::make_unique<HttpServerImpl>(options, ctx);
  if (absl::Status status = server->Init(); !status.ok()) return status;
  return server;
}

}  // namespace ghost::server::http
