// A Jinja template interpreter for the subset Hugging Face chat templates use (parser.h lists
// the statements; builtins.h the filters, tests, methods and globals). Semantics follow the
// JavaScript reference, @huggingface/jinja, which chat templates are tested against: trim_blocks
// and lstrip_blocks on, undefined values render as nothing, booleans as "true"/"false", tojson
// with ", " / ": " separators and non-ASCII kept.
//
// Rendering is bounded (RenderLimits): output and string size, evaluation steps and call depth,
// so a hostile template cannot hang, exhaust memory or overflow the stack. A construct the
// interpreter does not know is an error naming it and its line and column.
#ifndef GHOST_ENGINE_JINJA_TEMPLATE_H_
#define GHOST_ENGINE_JINJA_TEMPLATE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/jinja/value.h"

namespace ghost::jinja {

struct RenderLimits {
  std::size_t max_output_bytes = 8 << 20;  // the output, and any string built on the way
  std::int64_t max_steps = 10'000'000;     // expressions evaluated + loop iterations
  int max_depth = 400;                     // nested evaluation (expressions, blocks, macros)
  int max_value_depth = 100;               // nesting of the lists and mappings it builds
  // Bytes of every string, and sizeof(Value) per element of every list or mapping, that expressions
  // produce, in total: steps alone do not bound work when each step copies a long string.
  std::size_t max_work_bytes = 64 << 20;
};

namespace internal {
struct Stmt;
}

class Template {
 public:
  // INVALID_ARGUMENT "line L, column C: ..." for a syntax error or an unsupported statement.
  static absl::StatusOr<Template> Parse(std::string_view source);

  // Renders with `variables` as the template's globals. INVALID_ARGUMENT "line L, column C:
  // ..." for an unknown filter or test, a type error, raise_exception ("the template raised:
  // <message>") or a limit reached.
  [[nodiscard]] absl::StatusOr<std::string> Render(const Mapping& variables,
                                                   const RenderLimits& limits = {}) const;

 private:
  using Body = std::vector<std::unique_ptr<internal::Stmt>>;
  explicit Template(std::shared_ptr<const Body> body) : body_(std::move(body)) {}
  std::shared_ptr<const Body> body_;  // immutable; shared by copies
};

}  // namespace ghost::jinja

#endif  // GHOST_ENGINE_JINJA_TEMPLATE_H_
