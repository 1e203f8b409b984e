#include "engine/runtime/evaluation_request.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ghost {
namespace {

using ::testing::HasSubstr;

TEST(EvaluationRequestTest, TextMustBeNonEmptyAndWithinTheBound) {
  RequestLimits limits;
  limits.max_prompt_bytes = 8;
  EXPECT_TRUE(ValidateEvaluationText("12345678", limits).ok());
  // Any bytes: a byte-level model evaluates Latin-1 as well as UTF-8.
  EXPECT_TRUE(ValidateEvaluationText("caf\xe9", limits).ok());

  const absl::Status empty = ValidateEvaluationText("", limits);
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(empty.message(), HasSubstr("empty"));

  const absl::Status over = ValidateEvaluationText("123456789", limits);
  EXPECT_EQ(over.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(over.message(), HasSubstr("9 bytes"));
  EXPECT_THAT(over.message(), HasSubstr("at most 8"));
  EXPECT_THAT(over.message(), HasSubstr("--max_prompt_bytes"));
}

TEST(EvaluationRequestTest, ZeroTakesTheDefaultCappedAtTheContext) {
  EXPECT_EQ(*ResolveEvaluationWindow(0, 4096), kDefaultEvaluationWindow);
  EXPECT_EQ(*ResolveEvaluationWindow(0, 512), 512);
  EXPECT_EQ(*ResolveEvaluationWindow(2, 512), 2);
  EXPECT_EQ(*ResolveEvaluationWindow(512, 512), 512);
}

TEST(EvaluationRequestTest, AWindowOutsideTwoToTheContextIsRefusedWithTheRange) {
  for (const int window : {-1, 1, 513}) {
    SCOPED_TRACE(window);
    const absl::StatusOr<int> resolved = ResolveEvaluationWindow(window, 512);
    EXPECT_EQ(resolved.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(resolved.status().message(), HasSubstr("[2, 512]"));
  }
}

}  // namespace
}  // namespace ghost
