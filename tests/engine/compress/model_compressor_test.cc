// Compresses the project's real model, models/ghost-tiny, end to end: the output directory
// loads, runs, and its quality report holds what the compressor measured.
#include "engine/compressor/model_compressor.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/checkpoint/checkpoint.h"
#include "engine/common/file.h"
#include "engine/model/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/engine/compress/ghost_tiny_compress_fixture.h"

namespace ghost::compress {
namespace {

namespace fs = std::filesystem;

const std::string& kModelDir = kGhostTinyDir;

class ModelCompressorTest : public GhostTinyCompressTest {
 protected:
  // A quarter of the sample keeps each test within seconds.
  ModelCompressorTest() : GhostTinyCompressTest(4096) {}
};

TEST_F(ModelCompressorTest, EverySchemeWritesAModelThatLoadsAndPredicts) {
  for (const std::string& scheme : CompressSchemes()) {
    SCOPED_TRACE(scheme);
    CompressJobSpec spec = Spec(scheme);
    spec.scheme = scheme;
    spec.block_size = 64;
    std::vector<CompressProgress> progress;
    absl::StatusOr<CompressReport> report = CompressModelDirectory(
        spec, [&](const CompressProgress& p) { progress.push_back(p); }, no_cancel_);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_THAT(EntriesFor(scheme), ::testing::ElementsAre(scheme));
    ASSERT_TRUE(fs::exists(spec.output_dir + "/" + kQualityReportFile));

    // 6 layers x 7 linears, each reconstructed far better than chance.
    ASSERT_EQ(report->tensors.size(), 42u);
    for (const TensorQuality& t : report->tensors) EXPECT_GT(t.cosine, 0.8) << t.tensor;
    EXPECT_GT(report->bits_per_weight, 1.5);
    EXPECT_LT(report->bits_per_weight, 2.6);
    EXPECT_GT(report->compression_ratio, 2.0);
    // The compressed model predicts the text much better than uniform bytes (8 bits) and,
    // being lossy, no better than the source model.
    EXPECT_GT(report->bits_per_byte_before, 1.0);
    EXPECT_GE(report->bits_per_byte_after, report->bits_per_byte_before * 0.99);
    EXPECT_LT(report->bits_per_byte_after, 6.0);

    absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(spec.output_dir);
    ASSERT_TRUE(model.ok()) << model.status();
    std::unique_ptr<ModelSession> session = (*model)->NewSession();
    std::vector<float> logits;
    ASSERT_TRUE(session->Forward({84, 104, 101}, /*all_logits=*/false, logits).ok());

    ASSERT_FALSE(progress.empty());
    EXPECT_EQ(progress.front().phase, "profiling");
    EXPECT_FLOAT_EQ(progress.back().percent, 100.0f);
    for (std::size_t i = 1; i < progress.size(); ++i) {
      EXPECT_GE(progress[i].percent, progress[i - 1].percent);
    }
  }
}

TEST_F(ModelCompressorTest, RemovesNeuronsAndGatesToTheTargetSparsity) {
  CompressJobSpec spec = Spec("sparse");
  spec.remove_dead_neurons = true;
  // ghost-tiny has few truly dead neurons; a loose tolerance removes the weakest ones.
  spec.dead_neuron_tolerance = 0.05f;
  spec.target_sparsity = 0.5f;
  absl::StatusOr<CompressReport> report = CompressModelDirectory(spec, nullptr, no_cancel_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_GT(report->removed_neuron_fraction, 0.0);
  EXPECT_LT(report->removed_neuron_fraction, 0.9);
  ASSERT_EQ(report->gate_thresholds.size(), 6u);
  // Calibrated on the same text it is measured on: close to the target.
  EXPECT_NEAR(report->activation_sparsity, 0.5, 0.1);

  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> written =
      SafetensorsCheckpoint::Open(spec.output_dir);
  ASSERT_TRUE(written.ok()) << written.status();
  const TensorView* kept = (*written)->Find("model.layers.0.mlp.kept_neurons");
  ASSERT_NE(kept, nullptr);
  EXPECT_EQ(kept->dtype, Dtype::kI32);
  const TensorView* up = (*written)->Find("model.layers.0.mlp.up_proj.qweight");
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->shape[0], kept->shape[0]);

  absl::StatusOr<std::string> config = ReadFileToString(spec.output_dir + "/config.json");
  ASSERT_TRUE(config.ok());
  const nlohmann::json q = nlohmann::json::parse(*config)["quantization_config"];
  EXPECT_EQ(q["quant_method"], "ghost");
  EXPECT_EQ(q["gate_thresholds"].size(), 6u);
}

TEST_F(ModelCompressorTest, CancelledJobLeavesNothing) {
  std::atomic<bool> cancel{false};
  CompressJobSpec spec = Spec("cancelled");
  absl::StatusOr<CompressReport> report = CompressModelDirectory(
      spec,
      [&](const CompressProgress& p) {
        if (p.phase == "quantizing") cancel = true;
      },
      cancel);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kCancelled) << report.status();
  EXPECT_THAT(EntriesFor("cancelled"), ::testing::IsEmpty());
}

TEST_F(ModelCompressorTest, RefusesBadSpecsAndExistingOutput) {
  CompressJobSpec spec = Spec("bad");
  spec.scheme = "int3";
  EXPECT_EQ(ValidateCompressSpec(spec).code(), absl::StatusCode::kInvalidArgument);
  spec = Spec("bad");
  spec.block_size = 48;
  EXPECT_EQ(ValidateCompressSpec(spec).code(), absl::StatusCode::kInvalidArgument);
  spec = Spec("bad");
  spec.target_sparsity = 1.0f;
  EXPECT_EQ(ValidateCompressSpec(spec).code(), absl::StatusCode::kInvalidArgument);
  spec = Spec("bad");
  spec.calibration_text.clear();
  EXPECT_EQ(ValidateCompressSpec(spec).code(), absl::StatusCode::kInvalidArgument);

  spec = Spec("taken");
  fs::create_directories(spec.output_dir);
  EXPECT_EQ(CompressModelDirectory(spec, nullptr, no_cancel_).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(ModelCompressorTest, RefusesACompressedSource) {
  CompressJobSpec spec = Spec("first");
  ASSERT_TRUE(CompressModelDirectory(spec, nullptr, no_cancel_).ok());
  CompressJobSpec again = Spec("second");
  again.source_dir = spec.output_dir;
  EXPECT_EQ(CompressModelDirectory(again, nullptr, no_cancel_).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(fs::exists(again.output_dir));
}

}  // namespace
}  // namespace ghost::compress
