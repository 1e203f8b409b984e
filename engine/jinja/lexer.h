// Splits a template into text and the tokens inside {% %} and {{ }}, applying the whitespace
// rules Hugging Face renders chat templates with: trim_blocks (the newline after a block tag
// or comment is dropped), lstrip_blocks (spaces and tabs before a block tag or comment on its
// own line are dropped), "-" on a tag (all whitespace on that side is dropped), one trailing
// newline of the template dropped, and {% generation %} / {% endgeneration %} markers removed.
#ifndef GHOST_ENGINE_JINJA_LEXER_H_
#define GHOST_ENGINE_JINJA_LEXER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/jinja/ast.h"

namespace ghost::jinja::internal {

struct Token {
  enum class Kind {
    kText,
    kOpenStatement,   // {%
    kCloseStatement,  // %}
    kOpenOutput,      // {{
    kCloseOutput,     // }}
    kName,
    kString,
    kInteger,
    kFloat,
    kOperator,  // punctuation and operators: ( ) [ ] { } , . : | = + - * / // % ** ~ == != ...
    kEnd
  };
  Kind kind;
  std::string text;  // the text, name, operator, or the string literal's value
  Position position;
};

// INVALID_ARGUMENT "line L, column C: ..." for an unterminated tag, comment or string, a bad
// escape or an unexpected character.
absl::StatusOr<std::vector<Token>> Tokenize(std::string_view source);

}  // namespace ghost::jinja::internal

#endif  // GHOST_ENGINE_JINJA_LEXER_H_
