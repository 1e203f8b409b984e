// Acceptance tests on the project's real models, models/ghost-tiny and models/ghost-small (each
// skipped until it exists): generation, the bf16 KV cache, and bits per byte against the
// PyTorch trainer's own evaluation (eval.json) at every window it records.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
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

std::string ModelDir(const std::string& name) {
  return std::string(GHOST_SOURCE_DIR) + "/models/" + name;
}

// The parameter is the model's directory name under models/.
class BundledModelTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string dir = ModelDir(GetParam());
    if (!std::filesystem::exists(dir + "/config.json") ||
        !std::filesystem::exists(dir + "/model.safetensors")) {
      GTEST_SKIP() << dir << " is not there yet";
    }
    absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *model;
  }

  std::shared_ptr<const Model> model_;
};

TEST_P(BundledModelTest, GeneratesGreedily) {
  const Model& model = *model_;
  EXPECT_EQ(model.summary().tokenizer, "byte-level");
  absl::StatusOr<std::unique_ptr<Executor>> executor = Executor::Create(model_, {});
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
  std::printf("%s greedy: \"Once upon a time\" -> \"%s\"\n", GetParam().c_str(), text.c_str());
}

// Greedy decoding of the real model with its default bf16 KV cache picks the same tokens as
// with an fp32 one, over a few blocks of positions.
TEST_P(BundledModelTest, Bf16KvCacheGeneratesTheSameGreedyTokensAsFp32) {
  const Model& model = *model_;
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
  std::printf("%s greedy, fp32 KV: \"%s\"\n", GetParam().c_str(), text(f32).c_str());
  EXPECT_EQ(bf16, f32) << "bf16 KV: " << text(bf16);
}

// eval.json's "validation_sample" is scored with 512-token windows; a model with a longer
// context also records "validation_sample_<window>" entries at its full context, which run
// the engine over every position the model was trained for.
TEST_P(BundledModelTest, BitsPerByteMatchesTheTrainer) {
  const std::string eval_path = ModelDir(GetParam()) + "/eval.json";
  const std::string sample_path = ModelDir(GetParam()) + "/validation-sample.txt";
  if (!std::filesystem::exists(eval_path) || !std::filesystem::exists(sample_path)) {
    GTEST_SKIP() << "no eval.json / validation-sample.txt yet";
  }
  const nlohmann::json eval = nlohmann::json::parse(*ReadFileToString(eval_path));
  const absl::StatusOr<std::string> sample = ReadFileToString(sample_path);
  ASSERT_TRUE(sample.ok());
  std::vector<std::pair<std::string, int>> entries = {{"validation_sample", 512}};
  for (const auto& [key, value] : eval.items()) {
    if (key.rfind("validation_sample_", 0) == 0) {
      entries.emplace_back(key, value.at("window").get<int>());
    }
  }
  for (const auto& [key, window] : entries) {
    const double expected = eval.at(key).at("bits_per_byte").get<double>();
    const absl::StatusOr<EvalResult> result = EvaluateBitsPerByte(*model_, *sample, window);
    ASSERT_TRUE(result.ok()) << key << ": " << result.status();
    std::printf("%s %s bits/byte (window %d): engine %.6f, trainer %.6f (%lld bytes predicted)\n",
                GetParam().c_str(), key.c_str(), window, result->bits_per_byte, expected,
                static_cast<long long>(result->bytes_predicted));
    EXPECT_NEAR(result->bits_per_byte, expected, 1e-3 * expected) << key;
    EXPECT_EQ(result->bytes_predicted, eval.at(key).at("bytes_predicted").get<std::int64_t>())
        << key;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, BundledModelTest, ::testing::Values("ghost-tiny", "ghost-small"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           name.erase(std::remove(name.begin(), name.end(), '-'), name.end());
                           return name;
                         });

}  // namespace
}  // namespace ghost
