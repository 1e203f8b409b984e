#include "engine/runtime/request.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/runtime/request_state.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ghost {
namespace {

using ::testing::HasSubstr;

std::string MessageOf(const absl::Status& status) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  return std::string(status.message());
}

TEST(RequestValidateTest, Sampling) {
  EXPECT_TRUE(SamplingOptions{}.Validate().ok());
  SamplingOptions s;
  s.temperature = -1;
  EXPECT_EQ(MessageOf(s.Validate()), "temperature must be a finite number >= 0, got -1");
  s = {};
  s.temperature = NAN;
  EXPECT_THAT(MessageOf(s.Validate()), HasSubstr("temperature must be a finite number >= 0"));
  s = {};
  s.top_p = 0;
  EXPECT_EQ(MessageOf(s.Validate()), "top_p must be in (0, 1], got 0");
  s = {};
  s.top_p = 1.5f;
  EXPECT_EQ(MessageOf(s.Validate()), "top_p must be in (0, 1], got 1.5");
  s = {};
  s.top_k = -3;
  EXPECT_THAT(MessageOf(s.Validate()), HasSubstr("top_k must be >= 0"));
  s = {};
  s.min_p = 2;
  EXPECT_EQ(MessageOf(s.Validate()), "min_p must be in [0, 1], got 2");
  s = {};
  s.repetition_penalty = 0;
  EXPECT_EQ(MessageOf(s.Validate()), "repetition_penalty must be a finite number > 0, got 0");
  s = {};
  s.presence_penalty = 3;
  EXPECT_THAT(MessageOf(s.Validate()), HasSubstr("presence_penalty must be in [-2, 2]"));
}

TEST(RequestValidateTest, Stopping) {
  EXPECT_TRUE(StoppingOptions{}.Validate().ok());
  StoppingOptions s;
  s.max_new_tokens = 0;
  EXPECT_EQ(MessageOf(s.Validate()), "max_new_tokens must be > 0, got 0");
  s = {};
  s.min_new_tokens = 200;
  EXPECT_EQ(MessageOf(s.Validate()), "min_new_tokens must be in [0, max_new_tokens=128], got 200");
  s = {};
  s.stop = {""};
  EXPECT_THAT(MessageOf(s.Validate()), HasSubstr("stop string"));
  s.stop = {"\xC3"};
  EXPECT_EQ(MessageOf(s.Validate()), "stop strings must be valid UTF-8");
  // Every free-form field is bounded (TESTPLAN G25): count and length of stop strings, count of
  // stop token ids.
  s = {};
  s.stop = std::vector<std::string>(16, std::string(256, 'x'));
  EXPECT_TRUE(s.Validate().ok());
  s.stop.push_back("x");
  EXPECT_EQ(MessageOf(s.Validate()), "the number of stop strings must be at most 16, got 17");
  s.stop = {std::string(257, 'x')};
  EXPECT_EQ(MessageOf(s.Validate()),
            "each stop string's length must be in [1, 256] bytes, got 257");
  s = {};
  s.stop_token_ids = std::vector<std::int32_t>(256, 1);
  EXPECT_TRUE(s.Validate().ok());
  s.stop_token_ids.push_back(1);
  EXPECT_EQ(MessageOf(s.Validate()), "the number of stop_token_ids must be at most 256, got 257");
}

TEST(RequestValidateTest, Request) {
  GenerationRequest r;
  EXPECT_EQ(MessageOf(r.Validate()), "the prompt is empty");
  r.prompt_tokens = {1};
  EXPECT_TRUE(r.Validate().ok());
  r.top_logprobs = 21;
  EXPECT_THAT(MessageOf(r.Validate()), HasSubstr("top_logprobs must be in [0, 20]"));
}

TEST(RequestStateTest, TransitionsAreChecked) {
  RequestState state = RequestState::kQueued;
  EXPECT_TRUE(TransitionRequestState(state, RequestState::kRunning).ok());
  EXPECT_TRUE(TransitionRequestState(state, RequestState::kFinished).ok());
  const absl::Status bad = TransitionRequestState(state, RequestState::kRunning);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("finished -> running"));
  EXPECT_EQ(state, RequestState::kFinished);
  state = RequestState::kQueued;
  EXPECT_FALSE(TransitionRequestState(state, RequestState::kFailed).ok());
  EXPECT_TRUE(TransitionRequestState(state, RequestState::kCancelled).ok());
}

TEST(RequestStateTest, PreemptedRequestsRunAgainOrAreCancelled) {
  RequestState state = RequestState::kQueued;
  EXPECT_FALSE(TransitionRequestState(state, RequestState::kPreempted).ok());
  ASSERT_TRUE(TransitionRequestState(state, RequestState::kRunning).ok());
  ASSERT_TRUE(TransitionRequestState(state, RequestState::kPreempted).ok());
  EXPECT_STREQ(RequestStateName(state), "preempted");
  EXPECT_FALSE(TransitionRequestState(state, RequestState::kFinished).ok());
  EXPECT_FALSE(TransitionRequestState(state, RequestState::kFailed).ok());
  ASSERT_TRUE(TransitionRequestState(state, RequestState::kRunning).ok());
  ASSERT_TRUE(TransitionRequestState(state, RequestState::kPreempted).ok());
  EXPECT_TRUE(TransitionRequestState(state, RequestState::kCancelled).ok());
}

TEST(FinishReasonTest, Names) {
  EXPECT_STREQ(FinishReasonName(FinishReason::kStop), "stop");
  EXPECT_STREQ(FinishReasonName(FinishReason::kLength), "length");
  EXPECT_STREQ(FinishReasonName(FinishReason::kCancelled), "cancelled");
  EXPECT_STREQ(FinishReasonName(FinishReason::kError), "error");
  EXPECT_STREQ(FinishReasonName(FinishReason::kNone), "");
}

}  // namespace
}  // namespace ghost
