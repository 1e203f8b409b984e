// Inference/Evaluate against a real in-process server serving ghost-tiny: the engine's own bits
// per byte, the request's errors, stopping on a deadline or a cancellation, and running beside
// Generate traffic on a resident and on a layer-streamed model.
#include "engine/model/evaluate.h"

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/common/file.h"
#include "engine/model/model.h"
#include "engine/runtime/evaluation_request.h"
#include "ghost/v1/inference.grpc.pb.h"
#include "ghost/v1/models.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/inference_service.h"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

using ghost::v1::EvaluateRequest;
using ghost::v1::EvaluateResponse;
using ::testing::HasSubstr;

const std::string kTinyDir = std::string(GHOST_SOURCE_DIR) + "/models/ghost-tiny";

std::string ValidationSample() {
  absl::StatusOr<std::string> sample = ReadFileToString(kTinyDir + "/validation-sample.txt");
  EXPECT_TRUE(sample.ok()) << sample.status();
  return sample.ok() ? *sample : "";
}

// Copies of the validation sample up to the default text bound (1 MiB): minutes of work for
// ghost-tiny on a CPU, so an evaluation of it is still running when a test acts on it.
std::string LongText() {
  const std::string sample = ValidationSample();
  std::string text;
  while (!sample.empty() && text.size() + sample.size() <= kDefaultMaxPromptBytes) text += sample;
  return text;
}

// What the engine computes for `text` in process, chunked as the server runs it.
EvalResult EngineResult(const std::string& text, int window) {
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(kTinyDir);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return {};
  absl::StatusOr<EvalResult> result =
      EvaluateBitsPerByte(**model, text, window, kEvaluationChunkTokens,
                          [](std::int64_t, std::int64_t) { return absl::OkStatus(); });
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : EvalResult{};
}

EvaluateRequest Request(const std::string& text, int window = 0, const std::string& model = "") {
  EvaluateRequest request;
  request.set_model(model);
  request.set_text(text);
  request.set_window(window);
  return request;
}

grpc::Status Evaluate(ghost::v1::Inference::Stub& stub, const EvaluateRequest& request,
                      EvaluateResponse* response,
                      std::chrono::milliseconds deadline = std::chrono::minutes(5)) {
  auto context = ContextWithToken("");
  context->set_deadline(std::chrono::system_clock::now() + deadline);
  return stub.Evaluate(context.get(), request, response);
}

std::string HandledSeries(const std::string& code) {
  return "grpc_server_handled_total{grpc_code=\"" + code +
         "\",grpc_method=\"Evaluate\",grpc_service=\"ghost.v1.Inference\"}";
}

class EvaluateTest : public ::testing::Test {
 protected:
  static constexpr std::size_t kMaxPromptBytes = 4096;

  static void SetUpTestSuite() {
    server::ServerOptions options = TestServerOptions();
    options.max_prompt_bytes = kMaxPromptBytes;
    server_ = StartTestServer(options).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    stub_ = ghost::v1::Inference::NewStub(ChannelTo(server_->port()));
  }

  static server::GhostServer* server_;
  std::unique_ptr<ghost::v1::Inference::Stub> stub_;
};

server::GhostServer* EvaluateTest::server_ = nullptr;

TEST_F(EvaluateTest, GivesTheEnginesBitsPerByteWithTheDefaultWindow) {
  // ghost-tiny serves 512 positions, under the default of 1024: windows of 512 and 188 bytes.
  const std::string text = ValidationSample().substr(0, 700);
  EvaluateResponse response;
  const grpc::Status status = Evaluate(*stub_, Request(text), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const EvalResult expected = EngineResult(text, 512);
  EXPECT_NEAR(response.bits_per_byte(), expected.bits_per_byte, 1e-9);
  EXPECT_EQ(response.bytes_predicted(), expected.bytes_predicted);
  EXPECT_EQ(response.bytes_predicted(), 700 - 2);
  EXPECT_EQ(response.window(), 512);
  EXPECT_EQ(response.model(), "ghost-tiny");
  EXPECT_EQ(response.mlp_activation_sparsity(), expected.mlp_activation_sparsity);
  // Plausible for a model trained on English: far under 8 bits per byte.
  EXPECT_LT(response.bits_per_byte(), 6.0);
}

TEST_F(EvaluateTest, TakesAWindowAndTextInAnyEncoding) {
  // Latin-1: not UTF-8, still bytes a byte-level model predicts.
  const std::string text =
      "Caf\xe9 au lait, cr\xe8me br\xfbl\xe9" + ValidationSample().substr(0, 300);
  EvaluateResponse response;
  const grpc::Status status = Evaluate(*stub_, Request(text, 64, "ghost-tiny"), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const EvalResult expected = EngineResult(text, 64);
  EXPECT_NEAR(response.bits_per_byte(), expected.bits_per_byte, 1e-9);
  EXPECT_EQ(response.bytes_predicted(), expected.bytes_predicted);
  EXPECT_EQ(response.window(), 64);
}

TEST_F(EvaluateTest, RefusesBadRequestsWithWhatToChange) {
  EvaluateResponse response;
  grpc::Status status = Evaluate(*stub_, Request(""), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("empty"));

  status = Evaluate(*stub_, Request(std::string(kMaxPromptBytes + 1, 'a')), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("at most 4096"));
  EXPECT_THAT(status.error_message(), HasSubstr("--max_prompt_bytes"));

  for (const int window : {1, -5, 513}) {
    status = Evaluate(*stub_, Request("some text", window), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << window;
    EXPECT_THAT(status.error_message(), HasSubstr("[2, 512]")) << window;
  }

  // A text shorter than two bytes predicts nothing.
  status = Evaluate(*stub_, Request("a"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  status = Evaluate(*stub_, Request("some text", 0, "no-such-model"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);

  // Registered but not loaded: UNAVAILABLE, as Generate answers (ModelRegistry::GetReady).
  auto models = ghost::v1::Models::NewStub(ChannelTo(server_->port()));
  ghost::v1::ImportModelRequest import;
  import.set_name("tiny-not-loaded");
  import.set_path("ghost-tiny");
  ghost::v1::Model model;
  ASSERT_TRUE(models->ImportModel(ContextWithToken("").get(), import, &model).ok());
  status = Evaluate(*stub_, Request("some text", 0, "tiny-not-loaded"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("not loaded"));
}

// Bits per byte needs one token per byte; a model whose tokenizer merges or adds bytes gets
// UNIMPLEMENTED saying so (ghost-tiny with a prefix space added is a general BPE tokenizer).
TEST(EvaluateTokenizerTest, AModelThatIsNotByteLevelGetsUnimplemented) {
  const std::string root = FreshTempDir("evaluate_bpe");
  std::filesystem::copy(kTinyDir, root + "/ghost-tiny", std::filesystem::copy_options::recursive);
  const std::string tokenizer_path = root + "/ghost-tiny/tokenizer.json";
  absl::StatusOr<std::string> tokenizer = ReadFileToString(tokenizer_path);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::string byte_level = "\"add_prefix_space\": false";
  const std::size_t at = tokenizer->find(byte_level);  // the pre-tokenizer's, the first
  ASSERT_NE(at, std::string::npos);
  tokenizer->replace(at, byte_level.size(), "\"add_prefix_space\": true");
  std::ofstream(tokenizer_path, std::ios::binary | std::ios::trunc) << *tokenizer;

  server::ServerOptions options = TestServerOptions();
  options.model_roots = {root};
  auto server = StartTestServer(options);
  ASSERT_NE(server, nullptr);
  auto stub = ghost::v1::Inference::NewStub(ChannelTo(server->port()));
  EvaluateResponse response;
  const grpc::Status status = Evaluate(*stub, Request("some text"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_THAT(status.error_message(), HasSubstr("byte-level"));
  server.reset();
  std::filesystem::remove_all(root);
}

// A long evaluation stops at its next chunk once the deadline passes or the client cancels: the
// server ends the call with that status rather than finishing the work (its rpc metrics record
// the status the server sent).
TEST(EvaluateStopTest, StopsOnTheDeadlineAndOnCancellation) {
  auto server = StartTestServer(TestServerOptions());
  ASSERT_NE(server, nullptr);
  auto stub = ghost::v1::Inference::NewStub(ChannelTo(server->port()));
  const std::string sample = ValidationSample();
  const std::string text = LongText();

  EvaluateResponse response;
  const grpc::Status expired =
      Evaluate(*stub, Request(text), &response, std::chrono::milliseconds(300));
  EXPECT_EQ(expired.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(AwaitMetric(server->metrics_port(), HandledSeries("DEADLINE_EXCEEDED"), 1), 1);

  auto context = ContextWithToken("");
  const EvaluateRequest request = Request(text);
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  grpc::Status cancelled;
  stub->async()->Evaluate(context.get(), &request, &response, [&](grpc::Status status) {
    std::lock_guard lock(mu);
    cancelled = std::move(status);
    done = true;
    done_cv.notify_all();
  });
  // Let the server start on it; the outcome is the same if it had not yet.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  context->TryCancel();
  {
    std::unique_lock lock(mu);
    done_cv.wait(lock, [&] { return done; });
  }
  EXPECT_EQ(cancelled.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(AwaitMetric(server->metrics_port(), HandledSeries("CANCELLED"), 1), 1);

  // The worker is free again: a short evaluation runs to the end.
  const grpc::Status short_one = Evaluate(*stub, Request(sample.substr(0, 200), 0), &response);
  EXPECT_TRUE(short_one.ok()) << short_one.error_message();
  EXPECT_EQ(AwaitMetric(server->metrics_port(), HandledSeries("OK"), 1), 1);
}

// More evaluations than the workers run and the queue holds: the surplus is refused at once
// with RESOURCE_EXHAUSTED instead of waiting, and the others stop when cancelled.
TEST(EvaluateQueueTest, RefusesEvaluationsBeyondTheQueue) {
  auto server = StartTestServer(TestServerOptions());
  ASSERT_NE(server, nullptr);
  auto stub = ghost::v1::Inference::NewStub(ChannelTo(server->port()));
  const EvaluateRequest request = Request(LongText());

  // Each takes minutes, so none ends while the others arrive.
  constexpr int kCalls = server::kEvaluationThreads + server::kMaxWaitingEvaluations + 2;
  struct Call {
    std::unique_ptr<grpc::ClientContext> context = ContextWithToken("");
    EvaluateResponse response;
    grpc::Status status;
  };
  std::vector<Call> calls(kCalls);
  std::mutex mu;
  std::condition_variable done_cv;
  int done = 0;
  for (Call& call : calls) {
    stub->async()->Evaluate(call.context.get(), &request, &call.response, [&](grpc::Status status) {
      std::lock_guard lock(mu);
      call.status = std::move(status);
      ++done;
      done_cv.notify_all();
    });
  }
  // The refusals come back at once; then cancel everything and wait for every call to end.
  {
    std::unique_lock lock(mu);
    done_cv.wait(lock, [&] { return done >= 2; });
  }
  for (Call& call : calls) call.context->TryCancel();
  {
    std::unique_lock lock(mu);
    done_cv.wait(lock, [&] { return done == kCalls; });
  }
  int refused = 0;
  for (const Call& call : calls) {
    if (call.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
      EXPECT_THAT(call.status.error_message(), HasSubstr("too many evaluations"));
    } else {
      EXPECT_EQ(call.status.error_code(), grpc::StatusCode::CANCELLED)
          << call.status.error_message();
    }
  }
  // At most kEvaluationThreads + kMaxWaitingEvaluations are taken; a call the worker has not
  // yet picked up when the next ones arrive still counts as waiting.
  EXPECT_GE(refused, kCalls - server::kEvaluationThreads - server::kMaxWaitingEvaluations);
  EXPECT_LE(refused, kCalls - server::kMaxWaitingEvaluations);
}

// An evaluation shares the model with the scheduler's Generate steps: both give what they give
// alone, on a resident model and on one whose layers stream through two slots.
void ExpectSameResultsBesideGenerate(const server::ServerOptions& options, bool streamed) {
  auto server = StartTestServer(options);
  ASSERT_NE(server, nullptr);
  ghost::v1::GetModelRequest get;
  get.set_name("ghost-tiny");
  ghost::v1::Model model;
  ASSERT_TRUE(ghost::v1::Models::NewStub(ChannelTo(server->port()))
                  ->GetModel(ContextWithToken("").get(), get, &model)
                  .ok());
  EXPECT_EQ(model.streamed_layers() > 0, streamed);
  auto stub = ghost::v1::Inference::NewStub(ChannelTo(server->port()));
  const ghost::v1::GenerateRequest generate = GreedyRequest("ghost-tiny", 48);
  const StreamResult alone = CollectStream(*stub, generate);
  ASSERT_TRUE(alone.status.ok()) << alone.status.error_message();

  std::vector<StreamResult> beside(3);
  std::vector<std::thread> clients;
  for (StreamResult& result : beside) {
    clients.emplace_back([&] { result = CollectStream(*stub, generate); });
  }
  const std::string text = ValidationSample().substr(1000, 1500);
  EvaluateResponse response;
  const grpc::Status status = Evaluate(*stub, Request(text, 256), &response);
  for (std::thread& client : clients) client.join();

  ASSERT_TRUE(status.ok()) << status.error_message();
  const EvalResult expected = EngineResult(text, 256);
  EXPECT_NEAR(response.bits_per_byte(), expected.bits_per_byte, 1e-9);
  EXPECT_EQ(response.bytes_predicted(), expected.bytes_predicted);
  for (const StreamResult& result : beside) {
    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
    EXPECT_EQ(result.token_ids, alone.token_ids);
  }
}

TEST(EvaluateBesideGenerateTest, ResidentModel) {
  ExpectSameResultsBesideGenerate(TestServerOptions(), /*streamed=*/false);
}

TEST(EvaluateBesideGenerateTest, LayerStreamedModel) {
  server::ServerOptions options = TestServerOptions();
  // ghost-tiny holds 11 MB of bf16 weights: with 6 MiB resident, its last layers stream.
  options.weight_budget_mb = 6;
  ExpectSameResultsBesideGenerate(options, /*streamed=*/true);
}

}  // namespace
}  // namespace ghost::testing
