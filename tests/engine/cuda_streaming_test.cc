// Layer streaming on CUDA (engine/backend/cuda/cuda_layer_transport.cc): a model under a quarter
// weight budget keeps most layers in pinned host memory and copies them into device slots every
// step, and computes exactly what the same model fully resident on the device computes (the same
// bytes reach the same kernels). The bytes copied per step are counted against the streamed
// layers' sizes, so a transport that silently kept the layers resident fails. Skips without a
// CUDA device; runs on a GPU machine (tools/gpu/check.sh).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "engine/compressor/model_compressor.h"
#include "engine/model/llama.h"
#include "engine/model/model.h"
#include "gtest/gtest.h"
#include "kernels/cuda/cuda_device.h"
#include "tests/engine/compress_fixture.h"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

struct Case {
  std::string name;
  std::string dtype;
  std::string scheme;  // empty: not compressed
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// Twelve small layers, so that a quarter budget streams most of them through two slots.
std::string WriteModel(const Case& c) {
  ghost::testing::TinyLlamaSpec spec = ghost::testing::WideLayerSpec(12);
  spec.dtype = c.dtype;
  spec.context = 512;  // the compressor profiles windows of 512 tokens
  spec.tie_word_embeddings = true;
  spec.seed = 9;
  const std::string dir = ghost::testing::MakeTempDir("cuda-stream-" + c.name);
  ghost::testing::WriteTinyLlama(dir, spec);
  if (c.scheme.empty()) return dir;
  compress::CompressJobSpec job;
  job.source_dir = dir;
  job.output_dir = dir + "-compressed";
  job.scheme = c.scheme;
  job.block_size = 16;
  job.target_sparsity = 0.4f;
  return ghost::testing::CompressForTest(job);
}

// A load on cuda:0, set member by member (GCC's -Wmissing-field-initializers).
ModelOptions OnCuda(std::int64_t weight_budget_bytes) {
  ModelOptions options;
  options.device = Device::kCuda;
  options.weight_budget_bytes = weight_budget_bytes;
  return options;
}

class CudaStreamingTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    if (kernels::CudaDeviceCount() == 0) {
      GTEST_SKIP() << "no CUDA device on this machine (compiled with CUDA: "
                   << (kernels::CudaCompiled() ? "yes" : "no")
                   << "); runs on a GPU machine (tools/gpu/check.sh)";
    }
    const std::string dir = WriteModel(GetParam());
    absl::StatusOr<std::shared_ptr<const Model>> resident = Model::Load(dir, OnCuda(0));
    ASSERT_TRUE(resident.ok()) << resident.status();
    resident_ = *resident;
    absl::StatusOr<std::shared_ptr<const Model>> streamed =
        Model::Load(dir, OnCuda(resident_->summary().resident_weight_bytes / 4));
    ASSERT_TRUE(streamed.ok()) << streamed.status();
    streamed_ = *streamed;
  }

  // The bytes of the streamed model's streamed layers, from the units themselves.
  std::int64_t StreamedUnitBytes() const {
    const auto& llama = dynamic_cast<const LlamaModel&>(*streamed_);
    std::int64_t bytes = 0;
    for (std::size_t l = llama.first_streamed_layer(); l < llama.weights().layers.size(); ++l) {
      bytes += static_cast<std::int64_t>(llama.weights().layers[l].unit->bytes());
    }
    return bytes;
  }

  std::shared_ptr<const Model> resident_, streamed_;
};

TEST_P(CudaStreamingTest, AQuarterBudgetOfDeviceMemoryStreamsMostLayers) {
  ASSERT_EQ(streamed_->backend().device(), Device::kCuda);
  EXPECT_EQ(resident_->layer_streamer(), nullptr);
  const LayerStreamer* streamer = streamed_->layer_streamer();
  ASSERT_NE(streamer, nullptr);
  const ModelSummary& s = streamed_->summary();
  EXPECT_GT(s.streamed_layers, streamed_->config().num_hidden_layers / 2);
  // The budget counts device memory: resident units plus the device slots.
  EXPECT_LE(s.resident_weight_bytes, s.weight_budget_bytes);
  const auto& llama = dynamic_cast<const LlamaModel&>(*streamed_);
  for (std::size_t l = 0; l < llama.weights().layers.size(); ++l) {
    // A streamed layer's device bytes were freed; only the pinned host copy is left.
    EXPECT_EQ(llama.weights().layers[l].unit->data() == nullptr, l >= llama.first_streamed_layer())
        << "layer " << l;
  }
  EXPECT_EQ(StreamedUnitBytes(), s.streamed_weight_bytes);
  EXPECT_EQ(static_cast<std::int64_t>(streamer->bytes_per_step()), s.streamed_weight_bytes);
}

TEST_P(CudaStreamingTest, LogitsEqualTheResidentModelsExactlyWithBytesCounted) {
  const LayerStreamer& streamer = *streamed_->layer_streamer();
  const std::int64_t per_step = StreamedUnitBytes();
  const auto vocab = static_cast<std::size_t>(resident_->config().vocab_size);
  std::unique_ptr<ModelSession> resident = resident_->NewSession();
  std::unique_ptr<ModelSession> streamed = streamed_->NewSession();
  std::vector<std::int32_t> input = {72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108};
  for (int step = 0; step < 12; ++step) {
    SCOPED_TRACE(::testing::Message() << "step " << step);
    const bool prefill = step == 0;
    const StreamStats before = streamer.stats();
    std::vector<float> expected, got;
    ASSERT_TRUE(resident->Forward(input, /*all_logits=*/prefill, expected).ok());
    const absl::Status status = streamed->Forward(input, /*all_logits=*/prefill, got);
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(got, expected);  // bit for bit
    // Every streamed layer went to the device once for the step, and was computed on once.
    const StreamStats after = streamer.stats();
    EXPECT_EQ(after.acquired_bytes - before.acquired_bytes, per_step);
    EXPECT_EQ(after.acquired_layers - before.acquired_layers,
              static_cast<std::int64_t>(streamer.layer_count()));
    EXPECT_GE(after.bytes, after.acquired_bytes);
    const float* last = expected.data() + expected.size() - vocab;
    input = {static_cast<std::int32_t>(std::max_element(last, last + vocab) - last)};
  }
}

INSTANTIATE_TEST_SUITE_P(Models, CudaStreamingTest,
                         ::testing::Values(Case{"bf16", "BF16", ""},
                                           Case{"ternary", "BF16", "ternary"}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace ghost
