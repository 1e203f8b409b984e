#include "engine/common/status_macros.h"

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace ghost {
namespace {

// Counts its calls, so the tests can see that each macro evaluates its expression once.
struct Source {
  int calls = 0;
  absl::Status Check(absl::Status result) {
    ++calls;
    return result;
  }
  template <typename T>
  absl::StatusOr<T> Produce(absl::StatusOr<T> result) {
    ++calls;
    return result;
  }
};

absl::Status CheckTwice(Source& source, absl::Status first, absl::Status second, int& reached) {
  GHOST_RETURN_IF_ERROR(source.Check(std::move(first)));
  reached = 1;
  GHOST_RETURN_IF_ERROR(source.Check(std::move(second)));
  reached = 2;
  return absl::OkStatus();
}

TEST(StatusMacrosTest, ReturnIfErrorContinuesOnOk) {
  Source source;
  int reached = 0;
  EXPECT_TRUE(CheckTwice(source, absl::OkStatus(), absl::OkStatus(), reached).ok());
  EXPECT_EQ(reached, 2);
  EXPECT_EQ(source.calls, 2);
}

TEST(StatusMacrosTest, ReturnIfErrorReturnsTheFirstErrorUnchanged) {
  Source source;
  int reached = 0;
  const absl::Status status =
      CheckTwice(source, absl::OkStatus(), absl::NotFoundError("x.json: missing"), reached);
  EXPECT_EQ(status, absl::NotFoundError("x.json: missing"));
  EXPECT_EQ(reached, 1);
  EXPECT_EQ(source.calls, 2);
}

// An absl::Status error leaves a function returning absl::StatusOr<T> too.
absl::StatusOr<int> CheckThenAnswer(absl::Status check) {
  GHOST_RETURN_IF_ERROR(check);
  return 42;
}

TEST(StatusMacrosTest, ReturnIfErrorInAFunctionReturningStatusOr) {
  EXPECT_EQ(CheckThenAnswer(absl::OkStatus()).value(), 42);
  EXPECT_EQ(CheckThenAnswer(absl::DataLossError("torn")).status(), absl::DataLossError("torn"));
}

// Two declarations and an assignment in one scope: each expansion has a temporary of its own.
absl::StatusOr<std::string> Join(Source& source, absl::StatusOr<std::string> first,
                                 absl::StatusOr<int> second) {
  GHOST_ASSIGN_OR_RETURN(std::string text, source.Produce(std::move(first)));
  GHOST_ASSIGN_OR_RETURN(const int count, source.Produce(std::move(second)));
  GHOST_ASSIGN_OR_RETURN(text, source.Produce<std::string>(text + ":" + std::to_string(count)));
  return text;
}

TEST(StatusMacrosTest, AssignOrReturnDeclaresAndAssigns) {
  Source source;
  EXPECT_EQ(Join(source, std::string("tokens"), 3).value(), "tokens:3");
  EXPECT_EQ(source.calls, 3);
}

TEST(StatusMacrosTest, AssignOrReturnReturnsTheErrorUnchangedAndStops) {
  Source source;
  EXPECT_EQ(Join(source, std::string("tokens"), absl::OutOfRangeError("count")).status(),
            absl::OutOfRangeError("count"));
  EXPECT_EQ(source.calls, 2);
}

// The value is moved out of the StatusOr: a move-only type works; the error converts to the
// enclosing function's own StatusOr type.
absl::StatusOr<int> Unwrap(absl::StatusOr<std::unique_ptr<int>> pointer) {
  GHOST_ASSIGN_OR_RETURN(std::unique_ptr<int> owned, std::move(pointer));
  return *owned;
}

TEST(StatusMacrosTest, AssignOrReturnMovesTheValue) {
  EXPECT_EQ(Unwrap(std::make_unique<int>(7)).value(), 7);
  EXPECT_EQ(Unwrap(absl::InvalidArgumentError("bad")).status(), absl::InvalidArgumentError("bad"));
}

// A const reference names the value inside the macro's own StatusOr, alive to the end of the
// scope.
absl::StatusOr<std::size_t> LengthOf(absl::StatusOr<std::string> text) {
  GHOST_ASSIGN_OR_RETURN(const std::string& kept, std::move(text));
  return kept.size();
}

TEST(StatusMacrosTest, AssignOrReturnBindsAConstReference) {
  EXPECT_EQ(LengthOf(std::string("four")).value(), 4u);
  EXPECT_EQ(LengthOf(absl::NotFoundError("gone")).status(), absl::NotFoundError("gone"));
}

}  // namespace
}  // namespace ghost
