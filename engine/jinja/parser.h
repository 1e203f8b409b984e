// Tokens to a statement tree (ast.h). The grammar is Jinja's, restricted to what chat templates
// use: text, {{ }}, comments, set (names, tuples, namespace attributes, blocks), if/elif/else,
// for (tuple targets, an inline `if` filter, else), macro, call, filter blocks, break and
// continue; expressions with Jinja's precedence, filters, tests, calls, attribute and item
// access, slices, inline if-else and list/tuple/dict literals.
#ifndef GHOST_ENGINE_JINJA_PARSER_H_
#define GHOST_ENGINE_JINJA_PARSER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "engine/jinja/ast.h"
#include "engine/jinja/lexer.h"

namespace ghost::jinja::internal {

// INVALID_ARGUMENT "line L, column C: ..." naming what was expected or the unsupported
// construct (e.g. "unsupported statement 'include'"); also when nesting exceeds
// kMaxNestingDepth.
absl::StatusOr<Body> Parse(const std::vector<Token>& tokens);

}  // namespace ghost::jinja::internal

#endif  // GHOST_ENGINE_JINJA_PARSER_H_
