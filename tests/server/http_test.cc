// The OpenAI-compatible HTTP API of an in-process server on 127.0.0.1 (ephemeral ports): shapes
// and SSE framing, the same text as gRPC Generate for the same seed, errors in OpenAI's shape,
// bearer tokens, body limits, and a client that disconnects mid-stream.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

using Json = nlohmann::json;
using ::testing::HasSubstr;

constexpr char kPrompt[] = "Once upon a time";

class HttpTest : public ::testing::Test {
 protected:
  void Start(server::ServerOptions options = TestServerOptions()) {
    server_ = StartTestServer(options);
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(server_->http_port(), 0);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->http_port());
    client_->set_read_timeout(120);
  }

  httplib::Result Post(const std::string& path, const Json& body, const std::string& token = "") {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return client_->Post(path.c_str(), headers, body.dump(), "application/json");
  }

  // The error object of a response, after checking OpenAI's shape.
  static Json Error(const httplib::Result& result) {
    EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
    const Json body = Json::parse(result->body);
    EXPECT_TRUE(body["error"]["message"].is_string()) << result->body;
    EXPECT_TRUE(body["error"]["type"].is_string()) << result->body;
    EXPECT_TRUE(body["error"].contains("param")) << result->body;
    EXPECT_TRUE(body["error"].contains("code")) << result->body;
    return body["error"];
  }

  std::unique_ptr<server::GhostServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

// The data of every event of an SSE body, checking the framing: "data: <payload>\n\n" only.
std::vector<std::string> EventData(const std::string& body) {
  std::vector<std::string> data;
  EXPECT_TRUE(body.ends_with("\n\n")) << body;
  for (absl::string_view event : absl::StrSplit(body, "\n\n", absl::SkipEmpty())) {
    EXPECT_TRUE(absl::StartsWith(event, "data: ")) << event;
    EXPECT_EQ(event.find('\n'), absl::string_view::npos) << event;
    data.emplace_back(event.substr(6));
  }
  return data;
}

TEST_F(HttpTest, ModelsAndHealth) {
  Start();
  auto health = client_->Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  auto models = client_->Get("/v1/models");
  ASSERT_TRUE(models);
  ASSERT_EQ(models->status, 200);
  const Json list = Json::parse(models->body);
  EXPECT_EQ(list["object"], "list");
  std::vector<std::string> ids;
  for (const Json& model : list["data"]) {
    EXPECT_EQ(model["object"], "model");
    EXPECT_TRUE(model["created"].is_number_integer());
    EXPECT_EQ(model["owned_by"], "ghostserve");
    ids.push_back(model["id"]);
  }
  EXPECT_THAT(ids, ::testing::Contains("ghost-tiny"));

  auto one = client_->Get("/v1/models/ghost-tiny");
  ASSERT_TRUE(one);
  EXPECT_EQ(Json::parse(one->body)["id"], "ghost-tiny");
  auto missing = client_->Get("/v1/models/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(Error(missing)["code"], "model_not_found");
  auto route = client_->Get("/v1/nothing");
  ASSERT_TRUE(route);
  EXPECT_EQ(route->status, 404);
  EXPECT_THAT(Error(route)["message"].get<std::string>(), HasSubstr("/v1/nothing"));
}

TEST_F(HttpTest, CompletionEqualsGrpcGenerateForTheSameSeed) {
  Start();
  ghost::v1::GenerateRequest grpc_request;
  grpc_request.set_model("ghost-tiny");
  grpc_request.set_text(kPrompt);
  grpc_request.mutable_sampling()->set_temperature(0.9f);
  grpc_request.mutable_sampling()->set_seed(1234);
  grpc_request.mutable_stopping()->set_max_new_tokens(24);
  auto stub = ghost::v1::Inference::NewStub(ChannelTo(server_->port()));
  const StreamResult grpc = CollectStream(*stub, grpc_request);
  ASSERT_TRUE(grpc.status.ok()) << grpc.status.error_message();

  const Json request = {{"model", "ghost-tiny"},  {"prompt", kPrompt}, {"temperature", 0.9},
                        {"seed", 1234},           {"max_tokens", 24},  {"user", "ignored"},
                        {"unknown_field", {1, 2}}};
  auto plain = Post("/v1/completions", request);
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200) << plain->body;
  const Json body = Json::parse(plain->body);
  EXPECT_THAT(body["id"].get<std::string>(), ::testing::StartsWith("cmpl-"));
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["model"], "ghost-tiny");
  ASSERT_EQ(body["choices"].size(), 1u);
  EXPECT_EQ(body["choices"][0]["index"], 0);
  EXPECT_EQ(body["choices"][0]["text"], grpc.text);
  EXPECT_EQ(body["choices"][0]["finish_reason"], grpc.finish_reason);
  EXPECT_TRUE(body["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(body["usage"]["prompt_tokens"], grpc.usage.prompt_tokens());
  EXPECT_EQ(body["usage"]["completion_tokens"], grpc.usage.completion_tokens());
  EXPECT_EQ(body["usage"]["total_tokens"],
            grpc.usage.prompt_tokens() + grpc.usage.completion_tokens());

  Json streamed_request = request;
  streamed_request["stream"] = true;
  auto streamed = Post("/v1/completions", streamed_request);
  ASSERT_TRUE(streamed);
  ASSERT_EQ(streamed->status, 200);
  EXPECT_THAT(streamed->get_header_value("Content-Type"), HasSubstr("text/event-stream"));
  const std::vector<std::string> events = EventData(streamed->body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    const Json chunk = Json::parse(events[i]);
    EXPECT_EQ(chunk["object"], "text_completion");
    EXPECT_FALSE(chunk.contains("usage"));  // only with stream_options.include_usage
    text += chunk["choices"][0]["text"].get<std::string>();
    const bool last = i + 2 == events.size();
    EXPECT_EQ(chunk["choices"][0]["finish_reason"].is_null(), !last) << events[i];
  }
  EXPECT_EQ(text, grpc.text);
}

TEST_F(HttpTest, StreamWithUsageLogprobsAndStop) {
  Start();
  const Json request = {
      {"model", "ghost-tiny"}, {"prompt", Json::array({kPrompt})},  // a batch of one
      {"temperature", 0},      {"max_tokens", 6},
      {"ignore_eos", true},    {"logprobs", 2},
      {"stream", true},        {"stream_options", {{"include_usage", true}}}};
  auto result = Post("/v1/completions", request);
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  const std::vector<std::string> events = EventData(result->body);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back(), "[DONE]");
  // The last event before [DONE] carries the usage and no choices; the others "usage": null.
  const Json usage = Json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 6);
  std::string text;
  int tokens = 0;
  for (std::size_t i = 0; i + 2 < events.size(); ++i) {
    const Json chunk = Json::parse(events[i]);
    EXPECT_TRUE(chunk["usage"].is_null());
    const Json& choice = chunk["choices"][0];
    text += choice["text"].get<std::string>();
    if (choice["logprobs"].is_null()) continue;
    const Json& logprobs = choice["logprobs"];
    for (std::size_t t = 0; t < logprobs["tokens"].size(); ++t, ++tokens) {
      EXPECT_LE(logprobs["token_logprobs"][t].get<double>(), 0);
      EXPECT_EQ(logprobs["top_logprobs"][t].size(), 2u);
      EXPECT_EQ(logprobs["text_offset"][t], tokens);  // ghost-tiny: one byte per token
    }
  }
  EXPECT_EQ(tokens, 6);

  // A stop string from that text ends the completion before it, finish_reason "stop".
  ASSERT_GE(text.size(), 4u);
  const Json stopped = {
      {"model", "ghost-tiny"}, {"prompt", kPrompt},
      {"temperature", 0},      {"max_tokens", 6},
      {"ignore_eos", true},    {"stop", Json::array({text.substr(3, 1), "\x01"})}};
  auto stop = Post("/v1/completions", stopped);
  ASSERT_TRUE(stop);
  ASSERT_EQ(stop->status, 200) << stop->body;
  const Json body = Json::parse(stop->body);
  EXPECT_EQ(body["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(body["choices"][0]["text"], text.substr(0, text.find(text[3])));
}

TEST_F(HttpTest, ChatCompletionsInOpenAiShapes) {
  Start();
  const Json request = {
      {"model", "ghost-tiny"},
      {"messages",
       Json::array({{{"role", "system"}, {"content", "Be brief."}},
                    {{"role", "user"},
                     {"content", Json::array({{{"type", "text"}, {"text", "Hello"}}})}}})},
      {"max_completion_tokens", 5},
      {"ignore_eos", true},
      {"temperature", 0},
      {"logprobs", true},
      {"top_logprobs", 3}};
  auto plain = Post("/v1/chat/completions", request);
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200) << plain->body;
  const Json body = Json::parse(plain->body);
  EXPECT_THAT(body["id"].get<std::string>(), ::testing::StartsWith("chatcmpl-"));
  EXPECT_EQ(body["object"], "chat.completion");
  const Json& choice = body["choices"][0];
  EXPECT_EQ(choice["message"]["role"], "assistant");
  EXPECT_EQ(choice["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["completion_tokens"], 5);
  ASSERT_EQ(choice["logprobs"]["content"].size(), 5u);
  std::string from_logprobs;
  for (const Json& token : choice["logprobs"]["content"]) {
    from_logprobs += token["token"].get<std::string>();
    EXPECT_EQ(token["top_logprobs"].size(), 3u);
    EXPECT_TRUE(token["bytes"].is_array());
  }
  EXPECT_EQ(from_logprobs, choice["message"]["content"]);

  Json streamed_request = request;
  streamed_request["stream"] = true;
  streamed_request.erase("logprobs");
  streamed_request.erase("top_logprobs");
  auto streamed = Post("/v1/chat/completions", streamed_request);
  ASSERT_TRUE(streamed);
  ASSERT_EQ(streamed->status, 200);
  const std::vector<std::string> events = EventData(streamed->body);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back(), "[DONE]");
  const Json first = Json::parse(events.front());
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  std::string text;
  for (std::size_t i = 1; i + 2 < events.size(); ++i) {
    text += Json::parse(events[i])["choices"][0]["delta"]["content"].get<std::string>();
  }
  EXPECT_EQ(text, choice["message"]["content"]);
  const Json last = Json::parse(events[events.size() - 2]);
  EXPECT_TRUE(last["choices"][0]["delta"].empty());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");

  auto no_role = Post("/v1/chat/completions",
                      {{"model", "ghost-tiny"}, {"messages", Json::array({{{"content", "x"}}})}});
  ASSERT_TRUE(no_role);
  EXPECT_EQ(no_role->status, 400);
  EXPECT_EQ(Error(no_role)["param"], "messages[0].role");
  auto image = Post(
      "/v1/chat/completions",
      {{"model", "ghost-tiny"},
       {"messages",
        Json::array({{{"role", "user"}, {"content", Json::array({{{"type", "image_url"}}})}}})}});
  ASSERT_TRUE(image);
  EXPECT_EQ(image->status, 400);
  EXPECT_EQ(Error(image)["param"], "messages[0].content");
  auto top_alone = Post("/v1/chat/completions",
                        {{"model", "ghost-tiny"},
                         {"messages", Json::array({{{"role", "user"}, {"content", "x"}}})},
                         {"top_logprobs", 2}});
  ASSERT_TRUE(top_alone);
  EXPECT_EQ(Error(top_alone)["param"], "top_logprobs");
}

TEST_F(HttpTest, BadRequestsGetOpenAiErrors) {
  server::ServerOptions options = TestServerOptions();
  options.http_max_body_bytes = 4096;
  Start(options);
  const auto status_of = [&](const std::string& body, const std::string& type) {
    auto result = client_->Post("/v1/completions", body, type.c_str());
    return result ? result->status : -1;
  };
  auto malformed = client_->Post("/v1/completions", "{\"model\": ", "application/json");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);
  EXPECT_THAT(Error(malformed)["message"].get<std::string>(), HasSubstr("not valid JSON"));
  EXPECT_EQ(status_of("[1, 2]", "application/json"), 400);

  auto wrong_type = Post("/v1/completions",
                         {{"model", "ghost-tiny"}, {"prompt", kPrompt}, {"temperature", "hot"}});
  ASSERT_TRUE(wrong_type);
  EXPECT_EQ(wrong_type->status, 400);
  EXPECT_EQ(Error(wrong_type)["param"], "temperature");
  EXPECT_EQ(Error(wrong_type)["type"], "invalid_request_error");
  auto options_type = Post(
      "/v1/completions",
      {{"model", "ghost-tiny"}, {"prompt", kPrompt}, {"stream_options", {{"include_usage", 1}}}});
  ASSERT_TRUE(options_type);
  EXPECT_EQ(Error(options_type)["param"], "stream_options.include_usage");

  auto n = Post("/v1/completions", {{"model", "ghost-tiny"}, {"prompt", kPrompt}, {"n", 2}});
  ASSERT_TRUE(n);
  EXPECT_EQ(n->status, 400);
  EXPECT_EQ(Error(n)["param"], "n");
  EXPECT_THAT(Error(n)["message"].get<std::string>(), HasSubstr("only n=1"));
  auto no_prompt = Post("/v1/completions", {{"model", "ghost-tiny"}});
  ASSERT_TRUE(no_prompt);
  EXPECT_EQ(Error(no_prompt)["param"], "prompt");
  // Values are the engine's to check, with its message.
  auto range =
      Post("/v1/completions", {{"model", "ghost-tiny"}, {"prompt", kPrompt}, {"temperature", -1}});
  ASSERT_TRUE(range);
  EXPECT_EQ(range->status, 400);
  EXPECT_THAT(Error(range)["message"].get<std::string>(), HasSubstr("temperature"));

  auto unknown = Post("/v1/completions", {{"model", "nope"}, {"prompt", kPrompt}});
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(Error(unknown)["code"], "model_not_found");

  auto text =
      client_->Post("/v1/completions", R"({"model":"ghost-tiny","prompt":"x"})", "text/plain");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 415);
  EXPECT_EQ(Error(text)["code"], "unsupported_media_type");
  EXPECT_EQ(status_of(R"({"model":"ghost-tiny","prompt":"x","max_tokens":1})",
                      "Application/JSON; charset=utf-8"),
            200);

  const std::string huge = Json{{"model", "ghost-tiny"}, {"prompt", std::string(8192, 'a')}}.dump();
  auto too_large = client_->Post("/v1/completions", huge, "application/json");
  ASSERT_TRUE(too_large);
  EXPECT_EQ(too_large->status, 413);
  EXPECT_THAT(Error(too_large)["message"].get<std::string>(), HasSubstr("--http_max_body_bytes"));
}

TEST_F(HttpTest, BearerTokenIsRequiredWhereConfigured) {
  server::ServerOptions options = TestServerOptions();
  options.auth_token = "user-token";
  options.admin_token = "admin-token";
  Start(options);
  const Json request = {
      {"model", "ghost-tiny"}, {"prompt", kPrompt}, {"max_tokens", 2}, {"ignore_eos", true}};
  auto none = Post("/v1/completions", request);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(Error(none)["code"], "invalid_api_key");
  EXPECT_EQ(none->get_header_value("WWW-Authenticate"), "Bearer");
  auto wrong = Post("/v1/completions", request, "guess");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(Post("/v1/completions", request, "user-token")->status, 200);
  EXPECT_EQ(Post("/v1/completions", request, "admin-token")->status, 200);
  EXPECT_EQ(client_->Get("/v1/models")->status, 401);
  // Probes need no token.
  EXPECT_EQ(client_->Get("/health")->status, 200);

  // The logger counts a request just after its response is written: wait for it.
  EXPECT_EQ(AwaitMetric(server_->metrics_port(),
                        "ghost_http_requests_total{code=\"200\",route=\"/v1/completions\"}", 2),
            2);
  EXPECT_EQ(AwaitMetric(server_->metrics_port(), "ghost_unauthenticated_rpcs_total", 3), 3);
  const std::string scrape = HttpGet(server_->metrics_port(), "/metrics");
  EXPECT_EQ(
      MetricValue(scrape, "ghost_generation_tokens_total{api=\"http\",model_name=\"ghost-tiny\"}"),
      4);
}

// A connection of its own, so that the test can close it mid-stream.
class RawConnection {
 public:
  explicit RawConnection(int port, int receive_buffer = 0) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    if (receive_buffer > 0) {
      // A small window and small segments keep the server's send buffer small too (Linux sizes
      // it from the congestion window in segments), so that a stream the client does not read
      // stalls after a few KB.
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
      const int segment = 536;
      setsockopt(fd_, IPPROTO_TCP, TCP_MAXSEG, &segment, sizeof(segment));
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() { Close(); }
  bool connected() const { return connected_; }
  bool Send(const std::string& data) {
    return write(fd_, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  }
  // Reads until `marker` has arrived (or the connection ends); returns what was read.
  std::string ReadUntil(const std::string& marker) {
    std::string read_so_far;
    char buffer[4096];
    while (read_so_far.find(marker) == std::string::npos) {
      const ssize_t n = read(fd_, buffer, sizeof(buffer));
      if (n <= 0) break;
      read_so_far.append(buffer, n);
    }
    return read_so_far;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
  bool connected_ = false;
};

TEST_F(HttpTest, ClientThatDisconnectsMidStreamCancelsItsRequest) {
  Start();
  const std::string body = Json{{"model", "ghost-tiny"}, {"prompt", kPrompt}, {"max_tokens", 480},
                                {"ignore_eos", true},    {"logprobs", 5},     {"stream", true}}
                               .dump();
  RawConnection connection(server_->http_port());
  ASSERT_TRUE(connection.connected());
  ASSERT_TRUE(
      connection.Send("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Content-Type: application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body));
  const std::string head = connection.ReadUntil("data: ");
  ASSERT_THAT(head, HasSubstr("HTTP/1.1 200"));
  ASSERT_THAT(head, HasSubstr("Transfer-Encoding: chunked"));
  connection.Close();

  const std::string http_model = "{api=\"http\",model_name=\"ghost-tiny\"}";
  EXPECT_EQ(AwaitMetric(server_->metrics_port(), "ghost_num_requests_running" + http_model, 0), 0);
  EXPECT_EQ(AwaitMetric(server_->metrics_port(),
                        "ghost_request_success_total{api=\"http\",finished_reason=\"cancelled\","
                        "model_name=\"ghost-tiny\"}",
                        1),
            1);
  // The KV blocks are free again and the server serves on.
  EXPECT_EQ(AwaitMetric(server_->metrics_port(),
                        "ghost_kv_cache_usage_ratio{device=\"cpu\",model_name=\"ghost-tiny\"}", 0),
            0);
  auto after =
      Post("/v1/completions", {{"model", "ghost-tiny"}, {"prompt", kPrompt}, {"max_tokens", 2}});
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
}

// SIGTERM's drain covers HTTP: /health turns 503 at once, new requests get 503, and a stream
// still in flight holds the server up until the grace period ends.
TEST_F(HttpTest, DrainingServerAnswers503AndWaitsForItsStreams) {
  server::ServerOptions options = TestServerOptions();
  options.grace_period = absl::Seconds(2);
  Start(options);
  // A client that reads nothing, with a small receive window: the stream stalls in flight.
  RawConnection stalled(server_->http_port(), /*receive_buffer=*/4096);
  ASSERT_TRUE(stalled.connected());
  const std::string body = Json{{"model", "ghost-tiny"}, {"prompt", kPrompt}, {"max_tokens", 480},
                                {"ignore_eos", true},    {"logprobs", 20},    {"stream", true}}
                               .dump();
  ASSERT_TRUE(
      stalled.Send("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Content-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body));
  const std::string http_model = "{api=\"http\",model_name=\"ghost-tiny\"}";
  ASSERT_EQ(AwaitMetric(server_->metrics_port(), "ghost_generation_tokens_total" + http_model, 480),
            480);
  ASSERT_EQ(MetricValue(HttpGet(server_->metrics_port(), "/metrics"),
                        "ghost_num_requests_running" + http_model),
            1);

  std::thread shutdown([&] { server_->Shutdown(); });
  int health = 0;  // -1: no answer
  for (int i = 0; i < 100 && health != 503 && health != -1; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto result = client_->Get("/health");
    health = result ? result->status : -1;
  }
  EXPECT_EQ(health, 503);
  auto refused = Post("/v1/completions", {{"model", "ghost-tiny"}, {"prompt", kPrompt}});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_THAT(Error(refused)["message"].get<std::string>(), HasSubstr("shutting down"));
  shutdown.join();  // the stalled stream is cut once the grace period is over
}

}  // namespace
}  // namespace ghost::testing
