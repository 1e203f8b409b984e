// Chunked evaluation on models/ghost-tiny: the same bits per byte as whole windows, a check
// before every chunk, and a stop at the first check that says so; and the chunk size a
// compression job picks.
#include "engine/compressor/chunked_evaluation.h"

#include <filesystem>
#include <string>

#include "engine/common/file.h"
#include "engine/model/evaluate.h"
#include "gtest/gtest.h"

namespace ghost::compress {
namespace {

const std::string kModelDir = std::string(GHOST_SOURCE_DIR) + "/models/ghost-tiny";

TEST(TokensPerChunkTest, ScalesWithTheModelWithinBounds) {
  EXPECT_EQ(TokensPerChunk(5'837'568, 512), 85);  // ghost-tiny
  EXPECT_EQ(TokensPerChunk(8'000'000'000, 512), kMinTokensPerChunk);
  EXPECT_EQ(TokensPerChunk(1000, 512), 512);
  EXPECT_EQ(TokensPerChunk(8'000'000'000, 8), 8);
}

TEST(ChunkedEvaluationTest, MatchesWholeWindowEvaluationAndChecksEveryChunk) {
  if (!std::filesystem::exists(kModelDir + "/model.safetensors")) GTEST_SKIP() << "no ghost-tiny";
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(kModelDir);
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<std::string> sample = ReadFileToString(kModelDir + "/validation-sample.txt");
  ASSERT_TRUE(sample.ok());
  // Two whole windows of 64 and a short one of 22 bytes.
  const std::string text = sample->substr(0, 150);
  absl::StatusOr<EvalResult> whole = EvaluateBitsPerByte(**model, text, 64);
  ASSERT_TRUE(whole.ok()) << whole.status();

  std::vector<std::int64_t> seen;
  absl::StatusOr<EvalResult> chunked =
      EvaluateBitsPerByte(**model, text, 64, 20, [&](std::int64_t done, std::int64_t total) {
        EXPECT_EQ(total, 150);
        seen.push_back(done);
        return absl::OkStatus();
      });
  ASSERT_TRUE(chunked.ok()) << chunked.status();
  EXPECT_NEAR(chunked->bits_per_byte, whole->bits_per_byte, 1e-4 * whole->bits_per_byte);
  EXPECT_EQ(chunked->bytes_predicted, whole->bytes_predicted);
  EXPECT_NEAR(chunked->mlp_activation_sparsity, whole->mlp_activation_sparsity, 1e-9);
  // Windows of 64, 64 and 22 tokens in chunks of at most 20: 4 + 4 + 2 checks.
  const std::vector<std::int64_t> expected = {0, 20, 40, 60, 64, 84, 104, 124, 128, 148};
  EXPECT_EQ(seen, expected);

  int checks = 0;
  absl::StatusOr<EvalResult> stopped =
      EvaluateBitsPerByte(**model, text, 64, 20, [&](std::int64_t, std::int64_t) {
        return ++checks == 3 ? absl::CancelledError("stop") : absl::OkStatus();
      });
  EXPECT_EQ(stopped.status(), absl::CancelledError("stop"));
  EXPECT_EQ(checks, 3);

  const auto go_on = [](std::int64_t, std::int64_t) { return absl::OkStatus(); };
  EXPECT_EQ(EvaluateBitsPerByte(**model, text, 1, 20, go_on).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EvaluateBitsPerByte(**model, "a", 64, 20, go_on).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ghost::compress
