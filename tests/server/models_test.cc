// Integration: the Models service (import, load, unload, delete) over gRPC on the real server,
// admin authentication, unloading under streams, load/unload races under traffic, and the
// registry surviving a restart.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include "ghost/v1/models.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// A model root holding two copies of ghost-tiny: the default model and "tiny-b".
class ModelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = FreshTempDir("models");
    for (const char* name : {"ghost-tiny", "tiny-b"}) {
      fs::copy(std::string(GHOST_SOURCE_DIR) + "/models/ghost-tiny", root_ + "/" + name,
               fs::copy_options::recursive);
    }
    options_ = TestServerOptions();
    options_.model_roots = {root_};
    options_.discover_models = true;
  }

  void TearDown() override {
    server_.reset();
    fs::remove_all(root_);  // two model copies per test: do not let them pile up in /tmp
  }

  void Start() {
    server_ = StartTestServer(options_);
    ASSERT_NE(server_, nullptr);
    channel_ = ChannelTo(server_->port());
    models_ = ghost::v1::Models::NewStub(channel_);
    inference_ = ghost::v1::Inference::NewStub(channel_);
  }

  grpc::Status Import(const std::string& name, const std::string& path,
                      const std::string& token = "", ghost::v1::Model* out = nullptr) {
    ghost::v1::ImportModelRequest request;
    request.set_name(name);
    request.set_path(path);
    ghost::v1::Model model;
    return models_->ImportModel(ContextWithToken(token).get(), request, out ? out : &model);
  }
  grpc::Status Load(const std::string& name, const std::string& token = "",
                    ghost::v1::Model* out = nullptr) {
    ghost::v1::LoadModelRequest request;
    request.set_name(name);
    ghost::v1::Model model;
    return models_->LoadModel(ContextWithToken(token).get(), request, out ? out : &model);
  }
  grpc::Status Unload(const std::string& name, const std::string& token = "",
                      ghost::v1::Model* out = nullptr) {
    ghost::v1::UnloadModelRequest request;
    request.set_name(name);
    ghost::v1::Model model;
    return models_->UnloadModel(ContextWithToken(token).get(), request, out ? out : &model);
  }
  grpc::Status Delete(const std::string& name, const std::string& token = "") {
    ghost::v1::DeleteModelRequest request;
    request.set_name(name);
    ghost::v1::DeleteModelResponse response;
    return models_->DeleteModel(ContextWithToken(token).get(), request, &response);
  }
  ghost::v1::Model Get(const std::string& name, const std::string& token = "") {
    ghost::v1::GetModelRequest request;
    request.set_name(name);
    ghost::v1::Model model;
    const grpc::Status status = models_->GetModel(ContextWithToken(token).get(), request, &model);
    EXPECT_TRUE(status.ok()) << name << ": " << status.error_message();
    return model;
  }
  // name -> load_at_start as registry.json has them.
  std::map<std::string, bool> OnDisk() const {
    std::ifstream in(options_.registry_dir + "/registry.json");
    std::stringstream text;
    text << in.rdbuf();
    const nlohmann::json registry = nlohmann::json::parse(text.str());
    std::map<std::string, bool> models;
    for (const auto& model : registry.at("models")) {
      models[model.at("name").get<std::string>()] = model.at("load_at_start").get<bool>();
    }
    return models;
  }

  std::string root_;
  server::ServerOptions options_;
  std::unique_ptr<server::GhostServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ghost::v1::Models::Stub> models_;
  std::unique_ptr<ghost::v1::Inference::Stub> inference_;
};

TEST_F(ModelsTest, ImportLoadUnloadDelete) {
  Start();
  ghost::v1::Model model;
  ASSERT_TRUE(Import("b", "tiny-b", "", &model).ok());
  EXPECT_EQ(model.state(), ghost::v1::AVAILABLE);
  EXPECT_EQ(model.path(), "tiny-b");
  EXPECT_EQ(model.architecture(), "LlamaForCausalLM");
  EXPECT_EQ(Import("b", "tiny-b").error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Import("", "tiny-b").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Import("c", "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Import("c", "../..").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const grpc::Status outside = Import("c", "/etc");
  EXPECT_EQ(outside.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(outside.error_message(), Not(HasSubstr("/etc")));
  EXPECT_EQ(Import("c", "missing").error_code(), grpc::StatusCode::NOT_FOUND);

  const StreamResult before = CollectStream(*inference_, GreedyRequest("b", 4));
  EXPECT_EQ(before.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(before.status.error_message(), HasSubstr("not loaded"));
  EXPECT_THAT(before.status.error_message(), HasSubstr("LoadModel"));

  ASSERT_TRUE(Load("b", "", &model).ok());
  EXPECT_EQ(model.state(), ghost::v1::READY);
  EXPECT_GT(model.parameters(), 0);
  const StreamResult ready = CollectStream(*inference_, GreedyRequest("b", 6));
  ASSERT_TRUE(ready.status.ok()) << ready.status.error_message();
  EXPECT_EQ(ready.token_ids.size(), 6u);
  EXPECT_EQ(Delete("b").error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  ASSERT_TRUE(Unload("b", "", &model).ok());
  EXPECT_EQ(model.state(), ghost::v1::AVAILABLE);
  EXPECT_EQ(Unload("b").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(CollectStream(*inference_, GreedyRequest("b", 4)).status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Load("nope").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Unload("nope").error_code(), grpc::StatusCode::NOT_FOUND);

  ASSERT_TRUE(Delete("b").ok());
  EXPECT_EQ(Delete("b").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(fs::exists(root_ + "/tiny-b/config.json"));  // imported: the files stay
  ghost::v1::ListModelsResponse list;
  ASSERT_TRUE(models_->ListModels(ContextWithToken("").get(), {}, &list).ok());
  // tiny-b lies directly under the root: it stays listed under its directory name.
  ASSERT_EQ(list.models_size(), 2);
  EXPECT_EQ(list.models(0).name(), "ghost-tiny");
  EXPECT_EQ(list.models(0).state(), ghost::v1::READY);
  EXPECT_EQ(list.models(1).name(), "tiny-b");
  EXPECT_EQ(list.models(1).state(), ghost::v1::AVAILABLE);
}

// LoadModel with a weight budget: the model streams its layers (GetModel, ListModels and the
// metrics say so), generates exactly what the resident copy of the same weights generates, and
// a budget too small to hold even the slots fails the reload while the old version serves.
TEST_F(ModelsTest, LoadModelWithAWeightBudgetStreamsLayers) {
  Start();
  ghost::v1::Model model;
  ASSERT_TRUE(Import("b", "tiny-b").ok());
  ASSERT_TRUE(Load("b", "", &model).ok());
  EXPECT_EQ(model.weight_budget_bytes(), 0);
  EXPECT_EQ(model.streamed_layers(), 0);
  const std::int64_t full = model.resident_weight_bytes();
  ASSERT_GT(full, 0);

  ghost::v1::LoadModelRequest request;
  request.set_name("b");
  request.set_weight_budget_bytes(full / 2);
  ASSERT_TRUE(models_->LoadModel(ContextWithToken("").get(), request, &model).ok());
  EXPECT_EQ(model.weight_budget_bytes(), full / 2);
  EXPECT_GT(model.streamed_layers(), 0);
  EXPECT_GT(model.streamed_weight_bytes(), 0);
  EXPECT_LE(model.resident_weight_bytes(), full / 2);
  ghost::v1::GetModelRequest get;
  get.set_name("b");
  ghost::v1::Model got;
  ASSERT_TRUE(models_->GetModel(ContextWithToken("").get(), get, &got).ok());
  EXPECT_EQ(got.streamed_weight_bytes(), model.streamed_weight_bytes());
  EXPECT_EQ(got.resident_weight_bytes(), model.resident_weight_bytes());

  const StreamResult resident = CollectStream(*inference_, GreedyRequest("ghost-tiny", 8));
  const StreamResult streamed = CollectStream(*inference_, GreedyRequest("b", 8));
  ASSERT_TRUE(streamed.status.ok()) << streamed.status.error_message();
  EXPECT_EQ(streamed.token_ids, resident.token_ids);

  const std::string metrics = HttpGet(server_->metrics_port(), "/metrics");
  EXPECT_GE(MetricValue(metrics, "ghost_stream_bytes_total{device=\"cpu\",model_name=\"b\"}"),
            static_cast<double>(model.streamed_weight_bytes()));
  EXPECT_EQ(MetricValue(metrics, "ghost_model_resident_bytes{device=\"cpu\",model_name=\"b\"}"),
            static_cast<double>(model.resident_weight_bytes()));
  EXPECT_GE(MetricValue(metrics, "ghost_stream_overlap_ratio{device=\"cpu\",model_name=\"b\"}"),
            0.0);
  EXPECT_GE(
      MetricValue(metrics, "ghost_stream_copy_seconds_total{device=\"cpu\",model_name=\"b\"}"),
      0.0);
  EXPECT_GE(
      MetricValue(metrics, "ghost_stream_wait_seconds_total{device=\"cpu\",model_name=\"b\"}"),
      0.0);
  EXPECT_EQ(
      MetricValue(metrics, "ghost_stream_bytes_total{device=\"cpu\",model_name=\"ghost-tiny\"}"),
      -1);

  request.set_weight_budget_bytes(4096);
  const grpc::Status small = models_->LoadModel(ContextWithToken("").get(), request, &model);
  EXPECT_EQ(small.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(small.error_message(), HasSubstr("weight budget of 4096 bytes"));
  EXPECT_TRUE(CollectStream(*inference_, GreedyRequest("b", 2)).status.ok());  // the old version
}

// Readiness ("ghost.v1.Inference") follows the default model; liveness ("") stays SERVING.
TEST_F(ModelsTest, ReadinessFollowsTheDefaultModel) {
  Start();
  auto health = grpc::health::v1::Health::NewStub(channel_);
  const auto status = [&](const char* service) {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    EXPECT_TRUE(health->Check(ContextWithToken("").get(), request, &response).ok());
    return response.status();
  };
  using grpc::health::v1::HealthCheckResponse;
  EXPECT_EQ(status("ghost.v1.Inference"), HealthCheckResponse::SERVING);
  ASSERT_TRUE(Unload("ghost-tiny").ok());
  EXPECT_EQ(status("ghost.v1.Inference"), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(status(""), HealthCheckResponse::SERVING);
  ASSERT_TRUE(Load("tiny-b").ok());  // found in the root, no import needed  // another model does
                                     // not make the server ready
  EXPECT_EQ(status("ghost.v1.Inference"), HealthCheckResponse::NOT_SERVING);
  ASSERT_TRUE(Load("ghost-tiny").ok());
  EXPECT_EQ(status("ghost.v1.Inference"), HealthCheckResponse::SERVING);
}

TEST_F(ModelsTest, AdminRpcsNeedTheAdminToken) {
  options_.auth_token = "user-token";
  options_.admin_token = "admin-token";
  Start();
  const std::vector<std::pair<std::string, std::function<grpc::Status(const std::string&)>>>
      admin_rpcs = {
          {"ImportModel", [&](const std::string& t) { return Import("b", "tiny-b", t); }},
          {"LoadModel", [&](const std::string& t) { return Load("b", t); }},
          {"UnloadModel", [&](const std::string& t) { return Unload("b", t); }},
          {"DeleteModel", [&](const std::string& t) { return Delete("b", t); }},
      };
  for (const auto& [rpc, call] : admin_rpcs) {
    for (const std::string token : {"", "wrong", "admin-tokenX"}) {
      EXPECT_EQ(call(token).error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << rpc << " with '" << token << "'";
    }
    const grpc::Status user = call("user-token");
    EXPECT_EQ(user.error_code(), grpc::StatusCode::PERMISSION_DENIED) << rpc;
    EXPECT_THAT(user.error_message(), HasSubstr("admin token")) << rpc;
    EXPECT_TRUE(call("admin-token").ok()) << rpc;  // in order: import, load, unload, delete
  }
  // The admin token works wherever the user token does.
  EXPECT_EQ(Get("ghost-tiny", "user-token").state(), ghost::v1::READY);
  EXPECT_EQ(Get("ghost-tiny", "admin-token").state(), ghost::v1::READY);
  EXPECT_TRUE(CollectStream(*inference_, GreedyRequest("", 3), "admin-token").status.ok());
  EXPECT_EQ(CollectStream(*inference_, GreedyRequest("", 3), "").status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ModelsTest, AdminTokenAloneGuardsOnlyAdminRpcs) {
  options_.admin_token = "admin-token";
  Start();
  EXPECT_EQ(Get("ghost-tiny").state(), ghost::v1::READY);
  EXPECT_TRUE(CollectStream(*inference_, GreedyRequest("", 3)).status.ok());
  EXPECT_EQ(Import("b", "tiny-b").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Import("b", "tiny-b", "guess").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Import("b", "tiny-b", "admin-token").ok());
}

TEST_F(ModelsTest, UnloadLetsInFlightStreamsFinishAndRefusesNewOnes) {
  Start();
  ASSERT_TRUE(Import("b", "tiny-b").ok());
  ASSERT_TRUE(Load("b").ok());
  constexpr int kTokens = 400;  // long enough to still run when the unload arrives
  constexpr int kStreams = 3;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<ghost::v1::GenerateResponse>>> readers;
  std::vector<int> tokens(kStreams, 0);
  for (int i = 0; i < kStreams; ++i) {
    contexts.push_back(ContextWithToken(""));
    readers.push_back(inference_->Generate(contexts.back().get(), GreedyRequest("b", kTokens)));
    ghost::v1::GenerateResponse first;
    ASSERT_TRUE(readers.back()->Read(&first));  // running now
    tokens[i] += first.token_ids_size();
  }

  std::atomic<bool> unloaded{false};
  grpc::Status unload_status;
  ghost::v1::Model after;
  std::thread unloader([&] {
    unload_status = Unload("b", "", &after);
    unloaded = true;
  });
  // Until the streams end the model is UNLOADING and new calls are refused.
  ghost::v1::ModelState state = ghost::v1::READY;
  while (state == ghost::v1::READY && !unloaded) state = Get("b").state();
  const bool saw_unloading = state == ghost::v1::UNLOADING;
  if (saw_unloading) {
    const StreamResult refused = CollectStream(*inference_, GreedyRequest("b", 2));
    EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_THAT(refused.status.error_message(), HasSubstr("model \"b\" is not loaded"));
  }
  for (int i = 0; i < kStreams; ++i) {
    ghost::v1::GenerateResponse response;
    std::string finish_reason;
    while (readers[i]->Read(&response)) {
      tokens[i] += response.token_ids_size();
      if (!response.finish_reason().empty()) finish_reason = response.finish_reason();
    }
    const grpc::Status status = readers[i]->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(tokens[i], kTokens) << "stream " << i;
    EXPECT_EQ(finish_reason, "length");
  }
  unloader.join();
  ASSERT_TRUE(unload_status.ok()) << unload_status.error_message();
  EXPECT_EQ(after.state(), ghost::v1::AVAILABLE);
  EXPECT_EQ(Get("b").state(), ghost::v1::AVAILABLE);
  EXPECT_EQ(CollectStream(*inference_, GreedyRequest("b", 2)).status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // The default model was never disturbed.
  EXPECT_TRUE(CollectStream(*inference_, GreedyRequest("", 2)).status.ok());
  if (!saw_unloading) GTEST_LOG_(INFO) << "the streams ended before the first GetModel";
}

TEST_F(ModelsTest, LoadUnloadRacesUnderTraffic) {
  Start();
  ASSERT_TRUE(Import("b", "tiny-b").ok());
  std::atomic<bool> stop{false};
  std::atomic<int> served_b{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&, i] {
      const std::string model = i == 0 ? "ghost-tiny" : "b";
      while (!stop) {
        const StreamResult result = CollectStream(*inference_, GreedyRequest(model, 8));
        if (result.status.ok()) {
          EXPECT_EQ(result.token_ids.size(), 8u);
          EXPECT_EQ(result.finish_reason, "length");
          if (model == "b") ++served_b;
        } else {
          // Only b comes and goes; the default model must keep serving throughout.
          EXPECT_EQ(model, "b") << result.status.error_message();
          EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAVAILABLE)
              << result.status.error_message();
        }
      }
    });
  }
  std::thread lister([&] {
    while (!stop) {
      ghost::v1::ListModelsResponse list;
      EXPECT_TRUE(models_->ListModels(ContextWithToken("").get(), {}, &list).ok());
    }
  });
  for (int round = 0; round < 8; ++round) {
    const grpc::Status load = Load("b");
    EXPECT_TRUE(load.ok()) << load.error_message();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const grpc::Status unload = Unload("b");
    EXPECT_TRUE(unload.ok()) << unload.error_message();
  }
  ASSERT_TRUE(Load("b").ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  const int served = served_b;
  while (served_b < served + 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  for (std::thread& client : clients) client.join();
  lister.join();

  EXPECT_GE(served_b, served + 2);
  EXPECT_EQ(Get("b").state(), ghost::v1::READY);
  EXPECT_EQ(Get("ghost-tiny").state(), ghost::v1::READY);
  // The registry on disk matches: both should load at the next start (tiny-b, found in the
  // root and never loaded, should not).
  EXPECT_EQ(OnDisk(),
            (std::map<std::string, bool>{{"b", true}, {"ghost-tiny", true}, {"tiny-b", false}}));
  ASSERT_TRUE(Unload("b").ok());
  EXPECT_EQ(OnDisk(),
            (std::map<std::string, bool>{{"b", false}, {"ghost-tiny", true}, {"tiny-b", false}}));
}

TEST_F(ModelsTest, RegistrySurvivesRestartAndLocksItsDirectory) {
  Start();
  ASSERT_TRUE(Import("b", "tiny-b").ok());
  ASSERT_TRUE(Load("b").ok());
  ASSERT_TRUE(Import("c", root_ + "/tiny-b").ok());

  // A second server on the same registry directory is refused while the first runs.
  server::ServerOptions second = options_;
  const auto refused = server::GhostServer::Start(second);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("another ghostserve uses this registry directory"));

  server_->Shutdown();
  server_.reset();
  Start();
  // b was ready: it loads again by itself; c was only imported.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (Get("b").state() != ghost::v1::READY && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Get("b").state(), ghost::v1::READY);
  EXPECT_EQ(Get("c").state(), ghost::v1::AVAILABLE);
  EXPECT_EQ(Get("c").path(), "tiny-b");
  EXPECT_TRUE(CollectStream(*inference_, GreedyRequest("b", 3)).status.ok());
}

}  // namespace
}  // namespace ghost::testing
