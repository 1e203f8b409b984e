// The CUDA backend (engine/backend/cuda) against the CPU backend on whole models: logits of a
// prompt within 1e-2 relative, and 64 greedy steps choosing the same tokens, for dense (f32,
// bf16, gated f16) and compressed (ternary + sparse MLP, codebook, two-level) tiny random models
// and the bundled ghost-tiny. Those skip without a CUDA device; the refusal without one runs
// everywhere.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/device.h"
#include "engine/compressor/model_compressor.h"
#include "engine/model/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/cuda/cuda_device.h"
#include "tests/engine/compress_fixture.h"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

// Options for a load on CUDA device `index`, set member by member (GCC's
// -Wmissing-field-initializers flags designated initializers that leave members out).
ModelOptions CudaOptions(int index = 0) {
  ModelOptions options;
  options.device = Device::kCuda;
  options.device_index = index;
  return options;
}

using ::testing::HasSubstr;

TEST(CudaBackendSelectionTest, DeviceNamesParse) {
  EXPECT_EQ(*ParseDeviceSelection("cpu"), (DeviceSelection{Device::kCpu, 0}));
  EXPECT_EQ(*ParseDeviceSelection("cuda"), (DeviceSelection{Device::kCuda, 0}));
  EXPECT_EQ(*ParseDeviceSelection("cuda:3"), (DeviceSelection{Device::kCuda, 3}));
  EXPECT_EQ(ParseDeviceSelection("cuda:3").value().ToString(), "cuda:3");
  for (const char* bad : {"", "gpu", "cuda:", "cuda:-1", "cuda:x", "CPU"}) {
    EXPECT_EQ(ParseDeviceSelection(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(CudaBackendSelectionTest, WithoutADeviceCudaIsAClearFailedPrecondition) {
  if (kernels::CudaDeviceCount() > 0) GTEST_SKIP() << "this machine has a CUDA device";
  const absl::StatusOr<std::shared_ptr<Backend>> cuda = NewBackend({.device = Device::kCuda});
  EXPECT_EQ(cuda.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(cuda.status().message(), HasSubstr("cuda:0"));
  EXPECT_THAT(cuda.status().message(), HasSubstr("device cpu"));

  const std::string dir = ghost::testing::MakeTempDir("cuda-none");
  ghost::testing::WriteTinyLlama(dir, ghost::testing::TinyLlamaSpec{});
  const absl::StatusOr<std::shared_ptr<const Model>> on_cuda = Model::Load(dir, CudaOptions(2));
  EXPECT_EQ(on_cuda.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(on_cuda.status().message(), HasSubstr("cuda:2"));
  // The CPU still loads the same directory.
  EXPECT_TRUE(Model::Load(dir).ok());
}

TEST(CudaBackendSelectionTest, APastTheLastDeviceIndexIsRefused) {
  const int count = kernels::CudaDeviceCount();
  if (count == 0) GTEST_SKIP() << "no CUDA device on this machine";
  const absl::StatusOr<std::shared_ptr<Backend>> cuda =
      NewBackend({.device = Device::kCuda, .device_index = count});
  EXPECT_EQ(cuda.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(cuda.status().message(), HasSubstr("no such device"));
}

struct Case {
  std::string name;
  std::string dtype = "F32";
  std::string scheme;    // compressor scheme; empty: as stored
  bool gated = false;    // dense gates (TinyLlamaSpec::gate_thresholds)
  bool bundled = false;  // models/ghost-tiny
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

constexpr int kSteps = 64;

class CudaBackendTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (kernels::CudaDeviceCount() == 0) {
      GTEST_SKIP() << "no CUDA device on this machine (compiled with CUDA: "
                   << (kernels::CudaCompiled() ? "yes" : "no")
                   << "); runs on a GPU machine (tools/gpu/check.sh)";
    }
    const Case& c = GetParam();
    std::string dir;
    if (c.bundled) {
      dir = std::string(GHOST_SOURCE_DIR) + "/models/ghost-tiny";
    } else {
      ghost::testing::TinyLlamaSpec spec;
      spec.dtype = c.dtype;
      spec.seed = 5;
      spec.context = 512;
      if (c.gated) spec.gate_thresholds = {0.05f, 0.1f};
      dir = ghost::testing::MakeTempDir("cuda-" + c.name);
      ghost::testing::WriteTinyLlama(dir, spec);
      if (!c.scheme.empty()) {
        compress::CompressJobSpec job;
        job.source_dir = dir;
        job.output_dir = dir + "-compressed";
        job.scheme = c.scheme;
        job.block_size = 16;
        if (c.scheme == "ternary") job.target_sparsity = 0.4f;
        dir = ghost::testing::CompressForTest(job);
      }
    }
    absl::StatusOr<std::shared_ptr<const Model>> cpu = Model::Load(dir);
    ASSERT_TRUE(cpu.ok()) << cpu.status();
    absl::StatusOr<std::shared_ptr<const Model>> cuda = Model::Load(dir, CudaOptions());
    ASSERT_TRUE(cuda.ok()) << cuda.status();
    cpu_ = *cpu;
    cuda_ = *cuda;
    ASSERT_EQ(cuda_->backend().device(), Device::kCuda);
  }

  std::shared_ptr<const Model> cpu_, cuda_;
};

// max |a - b| over a row, relative to the row's largest |b|.
double RowError(const float* a, const float* b, std::size_t n) {
  double diff = 0, scale = 1e-6;
  for (std::size_t i = 0; i < n; ++i) {
    diff = std::max(diff, std::fabs(double{a[i]} - b[i]));
    scale = std::max(scale, std::fabs(double{b[i]}));
  }
  return diff / scale;
}

TEST_P(CudaBackendTest, PromptLogitsAndGreedyTokensMatchTheCpu) {
  const std::vector<std::int32_t> prompt = {72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108};
  const std::size_t vocab = static_cast<std::size_t>(cpu_->config().vocab_size);
  std::unique_ptr<ModelSession> cpu = cpu_->NewSession(), cuda = cuda_->NewSession();
  std::vector<float> cpu_logits, cuda_logits;
  ASSERT_TRUE(cpu->Forward(prompt, /*all_logits=*/true, cpu_logits).ok());
  const absl::Status on_gpu = cuda->Forward(prompt, /*all_logits=*/true, cuda_logits);
  ASSERT_TRUE(on_gpu.ok()) << on_gpu;
  ASSERT_EQ(cuda_logits.size(), cpu_logits.size());
  for (std::size_t t = 0; t < prompt.size(); ++t) {
    EXPECT_LT(RowError(&cuda_logits[t * vocab], &cpu_logits[t * vocab], vocab), 1e-2) << t;
  }

  // Greedy decoding, each side on its own tokens: the same choice at every step. The CPU's
  // low-bit kernels quantize activations to int8 and the device's do not, so a step whose two
  // best CPU logits lie within the logits' measured disagreement is a tie either may break;
  // the test then stops there instead of comparing continuations of different texts.
  std::vector<float> cpu_last(cpu_logits.end() - vocab, cpu_logits.end());
  std::vector<float> cuda_last(cuda_logits.end() - vocab, cuda_logits.end());
  int compared = 0;
  for (int step = 0; step < kSteps; ++step) {
    const auto cpu_token = static_cast<std::int32_t>(
        std::max_element(cpu_last.begin(), cpu_last.end()) - cpu_last.begin());
    const auto cuda_token = static_cast<std::int32_t>(
        std::max_element(cuda_last.begin(), cuda_last.end()) - cuda_last.begin());
    double max_diff = 0;
    for (std::size_t i = 0; i < vocab; ++i) {
      max_diff = std::max(max_diff, std::fabs(double{cpu_last[i]} - cuda_last[i]));
    }
    std::vector<float> sorted = cpu_last;
    std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<float>());
    if (sorted[0] - sorted[1] <= 2 * max_diff) break;  // a tie within rounding
    ASSERT_EQ(cuda_token, cpu_token) << "step " << step;
    ++compared;
    ASSERT_TRUE(cpu->Forward({&cpu_token, 1}, /*all_logits=*/false, cpu_last).ok());
    const absl::Status decoded = cuda->Forward({&cuda_token, 1}, /*all_logits=*/false, cuda_last);
    ASSERT_TRUE(decoded.ok()) << decoded;
    EXPECT_LT(RowError(cuda_last.data(), cpu_last.data(), vocab), 1e-2) << "step " << step;
  }
  // Dense fp32 weights leave no room for ties: all 64 steps must have been compared.
  if (GetParam().dtype == "F32" && GetParam().scheme.empty()) {
    EXPECT_EQ(compared, kSteps);
  }
  RecordProperty("greedy_steps_compared", compared);
}

INSTANTIATE_TEST_SUITE_P(
    Models, CudaBackendTest,
    ::testing::Values(Case{"f32", "F32", "", false, false}, Case{"bf16", "BF16", "", false, false},
                      Case{"f16_gated", "F16", "", true, false},
                      Case{"ternary", "BF16", "ternary", false, false},
                      Case{"codebook", "BF16", "codebook4", false, false},
                      Case{"two_level", "BF16", "ternary-2level", false, false},
                      Case{"ghost_tiny", "", "", false, true}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace ghost
