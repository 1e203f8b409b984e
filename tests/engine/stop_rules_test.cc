#include "engine/runtime/stop_rules.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ghost {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr std::int32_t kEos = 257;
constexpr std::int32_t kAnyToken = 'x';

struct Result {
  std::vector<std::string> emitted;
  std::string text;
  FinishReason reason = FinishReason::kNone;
};

// Feeds text pieces (one per token); stops feeding when the rules finish.
Result Feed(const StoppingOptions& options, const std::vector<std::string>& pieces) {
  StopRules rules(options, {kEos});
  Result result;
  for (const std::string& piece : pieces) {
    StopRules::Step step = rules.Append(kAnyToken, piece);
    result.emitted.push_back(step.text);
    result.text += step.text;
    if (step.finish_reason != FinishReason::kNone) {
      result.reason = step.finish_reason;
      return result;
    }
  }
  result.text += rules.TakeHeldText();
  return result;
}

TEST(StopRulesTest, StopStringAcrossChunksIsNeverEmitted) {
  StoppingOptions options;
  options.stop = {"STOP"};
  const Result result = Feed(options, {"hello S", "T", "O", "P and more"});
  EXPECT_EQ(result.reason, FinishReason::kStop);
  EXPECT_EQ(result.text, "hello ");
  EXPECT_THAT(result.emitted, ElementsAre("hello ", "", "", ""));
  for (const std::string& piece : result.emitted) {
    EXPECT_EQ(piece.find('S'), std::string::npos);
  }
}

TEST(StopRulesTest, FalseStartIsReleased) {
  StoppingOptions options;
  options.stop = {"STOP"};
  const Result result = Feed(options, {"a ST", "ORM", " b"});
  EXPECT_EQ(result.reason, FinishReason::kNone);
  EXPECT_THAT(result.emitted, ElementsAre("a ", "STORM", " b"));
}

TEST(StopRulesTest, EarliestOfSeveralStopStringsWins) {
  StoppingOptions options;
  options.stop = {"world", "lo"};
  const Result result = Feed(options, {"hello world"});
  EXPECT_EQ(result.reason, FinishReason::kStop);
  EXPECT_EQ(result.text, "hel");
}

TEST(StopRulesTest, HeldTextIsReleasedAtLength) {
  StoppingOptions options;
  options.stop = {"STOP"};
  options.max_new_tokens = 2;
  const Result result = Feed(options, {"ab", "cST"});
  EXPECT_EQ(result.reason, FinishReason::kLength);
  EXPECT_EQ(result.text, "abcST");
}

TEST(StopRulesTest, EosAndStopTokens) {
  StoppingOptions options;
  options.stop_token_ids = {42};
  StopRules rules(options, {kEos});
  EXPECT_EQ(rules.Append('a', "a").finish_reason, FinishReason::kNone);
  EXPECT_EQ(rules.Append(42, "*").finish_reason, FinishReason::kStop);

  StopRules eos(options, {kEos});
  EXPECT_EQ(eos.Append(kEos, "").finish_reason, FinishReason::kStop);

  options.ignore_eos = true;
  StopRules ignoring(options, {kEos});
  EXPECT_EQ(ignoring.Append(kEos, "").finish_reason, FinishReason::kNone);
  EXPECT_THAT(ignoring.SuppressedTokens(), IsEmpty());
}

TEST(StopRulesTest, MinNewTokensDelaysStops) {
  StoppingOptions options;
  options.min_new_tokens = 2;
  options.stop = {"!"};
  StopRules rules(options, {kEos});
  EXPECT_THAT(rules.SuppressedTokens(), ElementsAre(kEos));
  StopRules::Step step = rules.Append('!', "!");  // token 1: too early to stop
  EXPECT_EQ(step.finish_reason, FinishReason::kNone);
  EXPECT_EQ(step.text, "!");
  step = rules.Append(kEos, "");  // token 2: still too early
  EXPECT_EQ(step.finish_reason, FinishReason::kNone);
  EXPECT_THAT(rules.SuppressedTokens(), IsEmpty());
  step = rules.Append('!', "!");
  EXPECT_EQ(step.finish_reason, FinishReason::kStop);
  EXPECT_EQ(step.text, "");
}

TEST(StopRulesTest, MaxNewTokens) {
  StoppingOptions options;
  options.max_new_tokens = 3;
  const Result result = Feed(options, {"a", "b", "c", "d"});
  EXPECT_EQ(result.reason, FinishReason::kLength);
  EXPECT_EQ(result.text, "abc");
}

}  // namespace
}  // namespace ghost
