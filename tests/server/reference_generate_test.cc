// The public API against the independent PyTorch reference (tools/reference/): the real server
// in-process serves the generated Llama / Qwen2 / Mistral directories, and a greedy Generate
// with logprobs must pick the reference's greedy tokens and report the reference's
// log-softmax. Error = max |ours - ref| over the chosen and top-20 logprobs of a step, divided by
// max |ref logit| of that step (the scale the logits test uses); bounds 1e-4 for fp32 weights,
// 1e-2 for bf16.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "ghost/v1/inference.grpc.pb.h"
#include "ghost/v1/models.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/engine/reference_data.h"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

constexpr int kTopLogprobs = 20;

class ReferenceGenerateTest : public ::testing::TestWithParam<std::string> {
 protected:
  // One server for all models: the first is the default, the others are imported and loaded.
  static void SetUpTestSuite() {
    const std::vector<std::string>& names = ReferenceModelNames();
    server::ServerOptions options = TestServerOptions();
    options.model_roots = {ReferenceModelDir("")};
    options.default_model = names.front();
    server_ = StartTestServer(options).release();
    if (server_ == nullptr) return;
    auto models = ghost::v1::Models::NewStub(ChannelTo(server_->port()));
    for (std::size_t i = 1; i < names.size(); ++i) {
      ghost::v1::ImportModelRequest import;
      import.set_name(names[i]);
      import.set_path(names[i]);
      ghost::v1::Model model;
      grpc::Status status = models->ImportModel(ContextWithToken("").get(), import, &model);
      ASSERT_TRUE(status.ok()) << names[i] << ": " << status.error_message();
      ghost::v1::LoadModelRequest load;
      load.set_name(names[i]);
      status = models->LoadModel(ContextWithToken("").get(), load, &model);
      ASSERT_TRUE(status.ok()) << names[i] << ": " << status.error_message();
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static server::GhostServer* server_;
};

server::GhostServer* ReferenceGenerateTest::server_ = nullptr;

TEST_P(ReferenceGenerateTest, GreedyLogprobsMatchTheReference) {
  ASSERT_NE(server_, nullptr);
  const ReferenceRun run = ReadReferenceRun(ReferenceModelDir(GetParam()));
  const int steps = static_cast<int>(run.tokens.size()) - run.prompt_tokens;
  ghost::v1::GenerateRequest request;
  request.set_model(GetParam());
  for (int t = 0; t < run.prompt_tokens; ++t) request.mutable_token_ids()->add_ids(run.tokens[t]);
  request.mutable_sampling()->set_temperature(0);
  request.mutable_stopping()->set_max_new_tokens(steps);
  request.mutable_stopping()->set_ignore_eos(true);
  request.set_logprobs(kTopLogprobs);
  auto stub = ghost::v1::Inference::NewStub(ChannelTo(server_->port()));
  const StreamResult result = CollectStream(*stub, request);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  std::vector<ghost::v1::TokenLogprob> logprobs;
  for (const auto& chunk : result.chunks) {
    logprobs.insert(logprobs.end(), chunk.logprobs().begin(), chunk.logprobs().end());
  }
  ASSERT_EQ(static_cast<int>(result.token_ids.size()), steps);
  ASSERT_EQ(static_cast<int>(logprobs.size()), steps);

  const double tolerance = ReferenceTolerance(run.dtype);
  double worst = 0.0;
  for (int step = 0; step < steps; ++step) {
    // The logits at the last known position predict this step's token.
    const double* ref_logits =
        &run.logits[static_cast<std::size_t>(run.prompt_tokens - 1 + step) * run.vocab_size];
    const std::vector<double> ref = LogSoftmax(ref_logits, run.vocab_size);
    double scale = 0.0;
    for (int v = 0; v < run.vocab_size; ++v) scale = std::max(scale, std::abs(ref_logits[v]));
    const ghost::v1::TokenLogprob& ours = logprobs[step];
    ASSERT_EQ(ours.token_id(), result.token_ids[step]);
    ASSERT_EQ(ours.top_logprobs_size(), kTopLogprobs);
    double error = std::abs(ours.logprob() - ref[ours.token_id()]);
    for (const auto& top : ours.top_logprobs()) {
      ASSERT_GE(top.token_id(), 0);
      ASSERT_LT(top.token_id(), run.vocab_size);
      error = std::max(error, std::abs(top.logprob() - ref[top.token_id()]));
    }
    worst = std::max(worst, error / scale);
    const std::int32_t expected = run.tokens[run.prompt_tokens + step];
    if (ours.token_id() != expected) {
      // Only a near tie may flip the greedy choice; the sequences differ from here on.
      EXPECT_LE((ref[expected] - ref[ours.token_id()]) / scale, tolerance)
          << GetParam() << " step " << step << ": server chose " << ours.token_id()
          << ", reference " << expected;
      break;
    }
  }
  std::printf(
      "reference %-17s server logprobs                  max relative error %.3g "
      "(bound %.0e)\n",
      GetParam().c_str(), worst, tolerance);
  EXPECT_LE(worst, tolerance) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Families, ReferenceGenerateTest,
                         ::testing::ValuesIn(ReferenceModelNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace ghost::testing
