// Our engine against the independent float64 PyTorch forward of tools/reference/ on small
// random Llama (llama3 and linear rope scaling, sharded), Qwen2 (q/k/v biases, tied
// embeddings) and Mistral (sliding window shorter than the sequence) models, with fp32 and
// bf16 weights. Error = max |ours - ref| / max |ref| over all positions and the whole
// vocabulary; bound 1e-4 for fp32 weights, 1e-2 for bf16 (reference_data.h). The one-pass
// logits are also written to <model>/engine_logits.bin (float32 [tokens, vocab]) for
// tools/reference/check_transformers.py.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "engine/model/model.h"
#include "gtest/gtest.h"
#include "tests/engine/reference_data.h"

namespace ghost {
namespace {

using ::ghost::testing::ReferenceRun;

class ReferenceLogitsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string directory = ghost::testing::ReferenceModelDir(GetParam());
    run_ = ghost::testing::ReadReferenceRun(directory);
    absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(directory);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *model;
    ASSERT_EQ(model_->config().architecture, run_.architecture);
    ASSERT_EQ(model_->config().vocab_size, run_.vocab_size);
  }

  void Report(const char* how, double error) {
    std::printf("reference %-17s %-32s max relative error %.3g (bound %.0e)\n", GetParam().c_str(),
                how, error, ghost::testing::ReferenceTolerance(run_.dtype));
    RecordProperty(how, std::to_string(error));
    EXPECT_LE(error, ghost::testing::ReferenceTolerance(run_.dtype)) << GetParam() << " " << how;
  }

  ReferenceRun run_;
  std::shared_ptr<const Model> model_;
};

TEST_P(ReferenceLogitsTest, AllPositionsInOnePass) {
  std::unique_ptr<ModelSession> session = model_->NewSession();
  std::vector<float> logits;
  ASSERT_TRUE(session->Forward(run_.tokens, /*all_logits=*/true, logits).ok());
  ASSERT_EQ(logits.size(), run_.logits.size());
  // For tools/reference/check_transformers.py, which compares them with transformers.
  std::ofstream out(ghost::testing::ReferenceModelDir(GetParam()) + "/engine_logits.bin",
                    std::ios::binary);
  out.write(reinterpret_cast<const char*>(logits.data()),
            static_cast<std::streamsize>(logits.size() * sizeof(float)));
  ASSERT_TRUE(out.good());
  Report("prefill",
         ghost::testing::MaxRelativeError(logits.data(), run_.logits.data(), logits.size()));
}

// The prompt in one step, then one token per step through the KV cache (where the sliding
// window has to mask cached positions).
TEST_P(ReferenceLogitsTest, PromptThenTokenByToken) {
  std::unique_ptr<ModelSession> session = model_->NewSession();
  const auto prompt = absl::MakeConstSpan(run_.tokens).first(run_.prompt_tokens);
  std::vector<float> all, step;
  ASSERT_TRUE(session->Forward(prompt, /*all_logits=*/true, all).ok());
  for (std::size_t t = run_.prompt_tokens; t < run_.tokens.size(); ++t) {
    ASSERT_TRUE(session->Forward({run_.tokens[t]}, /*all_logits=*/false, step).ok());
    all.insert(all.end(), step.begin(), step.end());
  }
  ASSERT_EQ(all.size(), run_.logits.size());
  Report("prompt + decode",
         ghost::testing::MaxRelativeError(all.data(), run_.logits.data(), all.size()));
}

INSTANTIATE_TEST_SUITE_P(Families, ReferenceLogitsTest,
                         ::testing::ValuesIn(ghost::testing::ReferenceModelNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace ghost
