// Integration: choosing a model's device (--device, LoadModel's device field) on the real
// server. Runs everywhere: without a usable CUDA device, a model asked onto cuda fails alone
// with FAILED_PRECONDITION saying why, and the CPU models keep serving; with one, it serves.
#include <filesystem>
#include <string>

#include "ghost/v1/models.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/cuda/cuda_device.h"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class DeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = FreshTempDir("device");
    for (const char* name : {"ghost-tiny", "tiny-b"}) {
      fs::copy(std::string(GHOST_SOURCE_DIR) + "/models/ghost-tiny", root_ + "/" + name,
               fs::copy_options::recursive);
    }
    options_ = TestServerOptions();
    options_.model_roots = {root_};
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(root_);
  }
  void Start() {
    server_ = StartTestServer(options_);
    ASSERT_NE(server_, nullptr);
    auto channel = ChannelTo(server_->port());
    models_ = ghost::v1::Models::NewStub(channel);
    inference_ = ghost::v1::Inference::NewStub(channel);
  }
  grpc::Status Load(const std::string& name, const std::string& device, ghost::v1::Model* out) {
    ghost::v1::LoadModelRequest request;
    request.set_name(name);
    request.set_device(device);
    return models_->LoadModel(ContextWithToken("").get(), request, out);
  }
  ghost::v1::Model Get(const std::string& name) {
    ghost::v1::GetModelRequest request;
    request.set_name(name);
    ghost::v1::Model model;
    EXPECT_TRUE(models_->GetModel(ContextWithToken("").get(), request, &model).ok());
    return model;
  }

  std::string root_;
  server::ServerOptions options_;
  std::unique_ptr<server::GhostServer> server_;
  std::unique_ptr<ghost::v1::Models::Stub> models_;
  std::unique_ptr<ghost::v1::Inference::Stub> inference_;
};

TEST_F(DeviceTest, CudaModelFailsAloneWithoutDeviceElseServes) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ghost::v1::ImportModelRequest import;
  import.set_name("b");
  import.set_path("tiny-b");
  ghost::v1::Model model;
  ASSERT_TRUE(models_->ImportModel(ContextWithToken("").get(), import, &model).ok());

  const grpc::Status loaded = Load("b", "cuda", &model);
  if (kernels::CudaDeviceCount() == 0) {
    EXPECT_EQ(loaded.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(loaded.error_message(), HasSubstr("cuda:0"));
    EXPECT_THAT(loaded.error_message(), HasSubstr("device cpu"));
    const ghost::v1::Model failed = Get("b");
    EXPECT_EQ(failed.state(), ghost::v1::FAILED);
    EXPECT_EQ(failed.device(), "cuda:0");
    EXPECT_THAT(failed.reason(), HasSubstr("cuda"));
    EXPECT_EQ(CollectStream(*inference_, GreedyRequest("b", 4)).status.error_code(),
              grpc::StatusCode::UNAVAILABLE);
  } else {
    ASSERT_TRUE(loaded.ok()) << loaded.error_message();
    EXPECT_EQ(model.device(), "cuda:0");
    const StreamResult on_gpu = CollectStream(*inference_, GreedyRequest("b", 4));
    ASSERT_TRUE(on_gpu.status.ok()) << on_gpu.status.error_message();
    EXPECT_EQ(on_gpu.token_ids.size(), 4u);
  }
  // The CPU model serves either way, and "b" loads on the CPU when asked.
  const StreamResult cpu = CollectStream(*inference_, GreedyRequest("ghost-tiny", 4));
  ASSERT_TRUE(cpu.status.ok()) << cpu.status.error_message();
  EXPECT_EQ(cpu.token_ids.size(), 4u);
  EXPECT_EQ(Get("ghost-tiny").device(), "cpu");
  ASSERT_TRUE(Load("b", "cpu", &model).ok());
  EXPECT_EQ(model.state(), ghost::v1::READY);
  EXPECT_EQ(model.device(), "cpu");
  const StreamResult b = CollectStream(*inference_, GreedyRequest("b", 4));
  ASSERT_TRUE(b.status.ok()) << b.status.error_message();
  EXPECT_EQ(b.token_ids, cpu.token_ids);  // the same model on the same device and prompt
}

TEST_F(DeviceTest, UnknownDeviceIsInvalidArgument) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ghost::v1::Model model;
  const grpc::Status status = Load("ghost-tiny", "gpu", &model);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("cpu, cuda or cuda:N"));
  EXPECT_EQ(Get("ghost-tiny").state(), ghost::v1::READY);  // still serving
}

TEST_F(DeviceTest, DeviceFlagIsValidated) {
  options_.device = "tpu";
  EXPECT_FALSE(options_.Validate().ok());
  options_.device = "cuda:1";
  EXPECT_TRUE(options_.Validate().ok());
}

TEST_F(DeviceTest, BuildInfoNamesCudaRuntimeAndDevice) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string metrics = HttpGet(server_->metrics_port(), "/metrics");
  // The runtime this binary links (or "none" without CUDA), and device 0 or "none".
  if (kernels::CudaCompiled()) {
    EXPECT_THAT(metrics, ::testing::ContainsRegex("cuda_runtime=\"[0-9]+\\.[0-9]+\""));
  } else {
    EXPECT_THAT(metrics, HasSubstr("cuda_runtime=\"none\""));
  }
  if (kernels::CudaDeviceCount() == 0) {
    EXPECT_THAT(metrics, HasSubstr("cuda_device=\"none\""));
  } else {
    EXPECT_THAT(metrics, ::testing::ContainsRegex("cuda_device=\"[^\"]+ \\(sm_[0-9]+\\)\""));
  }
}

TEST_F(DeviceTest, PerModelSeriesNameTheirDevice) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const StreamResult served = CollectStream(*inference_, GreedyRequest("ghost-tiny", 4));
  ASSERT_TRUE(served.status.ok()) << served.status.error_message();
  const std::string metrics = HttpGet(server_->metrics_port(), "/metrics");
  EXPECT_THAT(metrics,
              HasSubstr("ghost_model_resident_bytes{device=\"cpu\",model_name=\"ghost-tiny\"}"));
  EXPECT_THAT(metrics,
              HasSubstr("ghost_num_requests_waiting{device=\"cpu\",model_name=\"ghost-tiny\"}"));
}

}  // namespace
}  // namespace ghost::testing
