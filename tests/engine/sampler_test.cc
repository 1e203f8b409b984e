#include "engine/runtime/sampler.h"

#include <cmath>
#include <map>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ghost {
namespace {

std::vector<std::int32_t> Draws(const SamplingOptions& options, const std::vector<float>& logits,
                                int count, absl::Span<const std::int32_t> suppressed = {}) {
  Sampler sampler(options, {});
  std::vector<std::int32_t> tokens;
  for (int i = 0; i < count; ++i) tokens.push_back(sampler.Sample(logits, suppressed, 0, nullptr));
  return tokens;
}

std::set<std::int32_t> Distinct(const std::vector<std::int32_t>& tokens) {
  return {tokens.begin(), tokens.end()};
}

const std::vector<float> kLogits = {1.0f, 3.0f, 2.5f, 0.0f, -1.0f, 2.0f};

TEST(SamplerTest, SeededDeterminism) {
  SamplingOptions options;
  options.seed = 42;
  EXPECT_EQ(Draws(options, kLogits, 200), Draws(options, kLogits, 200));
  SamplingOptions other = options;
  other.seed = 43;
  EXPECT_NE(Draws(options, kLogits, 200), Draws(other, kLogits, 200));
  EXPECT_GT(Distinct(Draws(options, kLogits, 200)).size(), 3u);  // really samples
}

TEST(SamplerTest, GreedyIsArgmax) {
  SamplingOptions options;
  options.temperature = 0.0f;
  EXPECT_EQ(Distinct(Draws(options, kLogits, 50)), std::set<std::int32_t>{1});
}

TEST(SamplerTest, TopKKeepsOnlyTheBest) {
  SamplingOptions options;
  options.seed = 1;
  options.top_k = 2;
  options.temperature = 5.0f;  // flat, so any leak would show
  EXPECT_EQ(Distinct(Draws(options, kLogits, 1000)), (std::set<std::int32_t>{1, 2}));
}

TEST(SamplerTest, TopPKeepsTheSmallestNucleus) {
  // Probabilities 0.5, 0.3, 0.15, 0.05.
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f),
                                     std::log(0.05f)};
  SamplingOptions options;
  options.seed = 7;
  options.top_p = 0.75f;  // 0.5 < 0.75 <= 0.8: tokens 0 and 1
  EXPECT_EQ(Distinct(Draws(options, logits, 1000)), (std::set<std::int32_t>{0, 1}));
  options.top_p = 0.01f;  // always at least one token
  EXPECT_EQ(Distinct(Draws(options, logits, 100)), std::set<std::int32_t>{0});
}

TEST(SamplerTest, MinPDropsUnlikelyTokens) {
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f),
                                     std::log(0.05f)};
  SamplingOptions options;
  options.seed = 9;
  options.min_p = 0.25f;  // threshold 0.125: drops only token 3
  EXPECT_EQ(Distinct(Draws(options, logits, 2000)), (std::set<std::int32_t>{0, 1, 2}));
}

TEST(SamplerTest, FrequenciesFollowTheDistribution) {
  const std::vector<float> logits = {std::log(0.7f), std::log(0.2f), std::log(0.1f)};
  SamplingOptions options;
  options.seed = 3;
  std::map<std::int32_t, int> counts;
  for (std::int32_t t : Draws(options, logits, 10000)) ++counts[t];
  EXPECT_NEAR(counts[0] / 10000.0, 0.7, 0.02);
  EXPECT_NEAR(counts[1] / 10000.0, 0.2, 0.02);
  EXPECT_NEAR(counts[2] / 10000.0, 0.1, 0.02);
}

TEST(SamplerTest, SuppressedTokensAreNeverChosen) {
  SamplingOptions options;
  options.temperature = 0.0f;
  const std::vector<std::int32_t> suppressed = {1};
  EXPECT_EQ(Distinct(Draws(options, kLogits, 10, suppressed)), std::set<std::int32_t>{2});
}

TEST(SamplerTest, RepetitionPenaltyCoversThePrompt) {
  SamplingOptions options;
  options.temperature = 0.0f;
  options.repetition_penalty = 2.0f;  // 3.0 -> 1.5, below token 2's 2.5
  const std::vector<std::int32_t> prompt = {1};
  Sampler sampler(options, prompt);
  EXPECT_EQ(sampler.Sample(kLogits, {}, 0, nullptr), 2);
  // Now 2 is seen too (2.5 -> 1.25); token 5 (2.0) wins.
  EXPECT_EQ(sampler.Sample(kLogits, {}, 0, nullptr), 5);
  // Negative logits are multiplied: with every token seen, -1 -> -2 stays last.
}

TEST(SamplerTest, PresenceAndFrequencyPenalties) {
  SamplingOptions options;
  options.temperature = 0.0f;
  options.frequency_penalty = 0.4f;
  const std::vector<float> logits = {1.0f, 0.9f};
  Sampler sampler(options, {});
  // 0 wins (1.0), then 0.6 < 0.9 so 1 wins, then 0.6 vs 0.5 -> 0, then 0.2 vs 0.5 -> 1.
  std::vector<std::int32_t> tokens;
  for (int i = 0; i < 4; ++i) tokens.push_back(sampler.Sample(logits, {}, 0, nullptr));
  EXPECT_THAT(tokens, ::testing::ElementsAre(0, 1, 0, 1));

  SamplingOptions presence;
  presence.temperature = 0.0f;
  presence.presence_penalty = 0.2f;
  Sampler p(presence, {});
  EXPECT_EQ(p.Sample(logits, {}, 0, nullptr), 0);
  EXPECT_EQ(p.Sample(logits, {}, 0, nullptr), 1);  // 0.8 < 0.9
  EXPECT_EQ(p.Sample(logits, {}, 0, nullptr), 0);  // 0.8 vs 0.7: penalty is not cumulative
}

TEST(SamplerTest, LogprobsComeFromTheRawDistribution) {
  SamplingOptions options;
  options.temperature = 0.0f;
  options.repetition_penalty = 3.0f;
  const std::vector<std::int32_t> prompt = {1};
  Sampler sampler(options, prompt);
  TokenLogprob logprob;
  const std::int32_t token = sampler.Sample(kLogits, {}, 3, &logprob);
  EXPECT_EQ(token, 2);
  const std::vector<float> reference = LogSoftmax(kLogits);
  EXPECT_EQ(logprob.token_id, 2);
  EXPECT_FLOAT_EQ(logprob.logprob, reference[2]);
  ASSERT_EQ(logprob.top.size(), 3u);
  EXPECT_EQ(logprob.top[0].first, 1);  // unpenalized best
  EXPECT_EQ(logprob.top[1].first, 2);
  EXPECT_EQ(logprob.top[2].first, 5);
  double total = 0.0;
  for (float lp : reference) total += std::exp(lp);
  EXPECT_NEAR(total, 1.0, 1e-6);
}

}  // namespace
}  // namespace ghost
