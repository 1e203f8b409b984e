// The filters, tests, methods (str.strip, dict.get, ...) and globals (range, namespace,
// raise_exception, strftime_now) templates call. Internal to engine/jinja: errors are thrown as
// RenderError and caught by Template::Render.
#ifndef GHOST_ENGINE_JINJA_BUILTINS_H_
#define GHOST_ENGINE_JINJA_BUILTINS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "engine/jinja/ast.h"
#include "engine/jinja/template.h"
#include "engine/jinja/value.h"

namespace ghost::jinja::internal {

struct RenderError {
  Position position;
  std::string message;
};

[[noreturn]] void Throw(Position at, std::string message);

// The position of an error raised inside a callable (range, a method, ...): the interpreter
// replaces it with the call's.
inline constexpr Position kCallSite{0, 0};

// The work one rendering may do (RenderLimits): every evaluation step and every byte of every
// string built counts.
class Budget {
 public:
  explicit Budget(const RenderLimits& limits) : limits_(limits) {}
  void Step(Position at) {
    if (++steps_ > limits_.max_steps) {
      Throw(at,
            absl::StrCat("the template took more than ", limits_.max_steps, " steps (max_steps)"));
    }
  }
  void CheckSize(std::size_t bytes, Position at) const {
    if (bytes > limits_.max_output_bytes) {
      Throw(at, absl::StrCat("the template built a string of more than ", limits_.max_output_bytes,
                             " bytes (max_output_bytes)"));
    }
  }
  // Charges what producing `value` cost, and refuses values nested too deeply to walk.
  void Charge(const Value& value, Position at) {
    work_bytes_ += value.work_bytes();
    if (work_bytes_ > limits_.max_work_bytes) {
      Throw(at, absl::StrCat("the template produced more than ", limits_.max_work_bytes,
                             " bytes of values (max_work_bytes)"));
    }
    if (value.depth() > limits_.max_value_depth) {
      Throw(at, absl::StrCat("the template built a value nested deeper than ",
                             limits_.max_value_depth, " levels (max_value_depth)"));
    }
  }
  const RenderLimits& limits() const { return limits_; }

 private:
  const RenderLimits& limits_;
  std::int64_t steps_ = 0;
  std::size_t work_bytes_ = 0;
};

Value ApplyFilter(const std::string& name, const Value& operand, CallArguments& args,
                  Budget& budget, Position at);
bool ApplyTest(const std::string& name, const Value& operand, CallArguments& args, Position at);
// object.name: a mapping's member (or its get/items/keys/values methods), a string's method, a
// list's length; undefined otherwise.
Value GetAttribute(const Value& object, const std::string& name, Budget& budget, Position at);
// object[index]: members, list items and string characters (negative indices from the end).
Value GetItem(const Value& object, const Value& index, Position at);
// object[start:stop:step], Python's rules; any bound may be undefined.
Value Slice(const Value& object, const Value& start, const Value& stop, const Value& step,
            Position at);
// range, namespace, dict, raise_exception, strftime_now and the boolean/none names; undefined
// for any other name.
Value Global(const std::string& name, Budget& budget);
// The text `+` and `~` join: as {{ }} writes, except that floats lose a ".0" (as in
// JavaScript, the reference).
std::string ConcatText(const Value& value);

}  // namespace ghost::jinja::internal

#endif  // GHOST_ENGINE_JINJA_BUILTINS_H_
