// Acceptance test on the project's real model, models/ghost-tiny (skipped until it exists).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "engine/common/file.h"
#include "engine/model/evaluate.h"
#include "engine/model/model.h"
#include "engine/runtime/executor.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ghost {
namespace {

const std::string kModelDir = std::string(GHOST_SOURCE_DIR) + "/models/ghost-tiny";

class GhostTinyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(kModelDir + "/config.json") ||
        !std::filesystem::exists(kModelDir + "/model.safetensors")) {
      return;
    }
    absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(kModelDir);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = new std::shared_ptr<const Model>(*model);
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  void SetUp() override {
    if (model_ == nullptr) GTEST_SKIP() << kModelDir << " is not there yet";
  }

  static std::shared_ptr<const Model>* model_;
};
std::shared_ptr<const Model>* GhostTinyTest::model_ = nullptr;

TEST_F(GhostTinyTest, GeneratesGreedily) {
  const Model& model = **model_;
  EXPECT_EQ(model.summary().tokenizer, "byte-level");
  absl::StatusOr<std::unique_ptr<Executor>> executor = Executor::Create(*model_, {});
  ASSERT_TRUE(executor.ok());
  GenerationRequest request;
  request.prompt_tokens = model.tokenizer().Encode("<s>Once upon a time", true);
  request.sampling.temperature = 0.0f;
  request.stopping.max_new_tokens = 20;
  request.stopping.ignore_eos = true;
  std::string text;
  int tokens = 0;
  absl::Notification done;
  GenerationChunk final_chunk;
  ASSERT_TRUE((*executor)
                  ->Enqueue(request,
                            [&](GenerationChunk chunk) {
                              text += chunk.text;
                              tokens += static_cast<int>(chunk.token_ids.size());
                              if (chunk.is_final()) {
                                final_chunk = chunk;
                                done.Notify();
                              }
                            })
                  .ok());
  done.WaitForNotification();
  EXPECT_EQ(tokens, 20);
  EXPECT_EQ(final_chunk.finish_reason, FinishReason::kLength);
  std::printf("ghost-tiny greedy: \"Once upon a time\" -> \"%s\"\n", text.c_str());
}

// Greedy decoding of the real model with its default bf16 KV cache picks the same tokens as
// with an fp32 one, over a few blocks of positions.
TEST_F(GhostTinyTest, Bf16KvCacheGeneratesTheSameGreedyTokensAsFp32) {
  const Model& model = **model_;
  ASSERT_EQ(model.default_kv_dtype(), KvDtype::kBf16);
  const std::vector<std::int32_t> prompt =
      model.tokenizer().Encode("<s>The old man walked to the river", true);
  const auto greedy = [&](KvDtype kv_dtype) {
    std::unique_ptr<ModelSession> session = model.NewSession(kv_dtype);
    std::vector<float> logits;
    std::vector<std::int32_t> tokens;
    absl::Span<const std::int32_t> input = prompt;
    for (int t = 0; t < 64; ++t) {
      EXPECT_TRUE(session->Forward(input, /*all_logits=*/false, logits).ok());
      tokens.push_back(static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) -
                                                 logits.begin()));
      input = absl::MakeConstSpan(&tokens.back(), 1);
    }
    return tokens;
  };
  const std::vector<std::int32_t> f32 = greedy(KvDtype::kF32);
  const std::vector<std::int32_t> bf16 = greedy(KvDtype::kBf16);
  const auto text = [&](const std::vector<std::int32_t>& ids) {
    return model.tokenizer().Decode(ids, /*skip_special=*/true).value_or("?");
  };
  std::printf("ghost-tiny greedy, fp32 KV: \"%s\"\n", text(f32).c_str());
  EXPECT_EQ(bf16, f32) << "bf16 KV: " << text(bf16);
}

TEST_F(GhostTinyTest, BitsPerByteMatchesTheTrainer) {
  const std::string eval_path = kModelDir + "/eval.json";
  const std::string sample_path = kModelDir + "/validation-sample.txt";
  if (!std::filesystem::exists(eval_path) || !std::filesystem::exists(sample_path)) {
    GTEST_SKIP() << "no eval.json / validation-sample.txt yet";
  }
  const nlohmann::json eval = nlohmann::json::parse(*ReadFileToString(eval_path));
  const double expected = eval.at("validation_sample").at("bits_per_byte").get<double>();
  const absl::StatusOr<std::string> sample = ReadFileToString(sample_path);
  ASSERT_TRUE(sample.ok());
  const absl::StatusOr<EvalResult> result = EvaluateBitsPerByte(**model_, *sample);
  ASSERT_TRUE(result.ok()) << result.status();
  std::printf("ghost-tiny bits/byte: engine %.6f, trainer %.6f (%lld bytes predicted)\n",
              result->bits_per_byte, expected, static_cast<long long>(result->bytes_predicted));
  EXPECT_NEAR(result->bits_per_byte, expected, 1e-3 * expected);
}

}  // namespace
}  // namespace ghost
