// The token cursor and the expression half of the Jinja parser (parser.h): Jinja's precedence
// from inline if-else down to literals, with filters, tests, calls, attribute and item access
// and slices. The statement parser (parser.cc) derives from it.
#ifndef GHOST_ENGINE_JINJA_EXPRESSION_PARSER_H_
#define GHOST_ENGINE_JINJA_EXPRESSION_PARSER_H_

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/jinja/ast.h"
#include "engine/jinja/lexer.h"

namespace ghost::jinja::internal {

// Thrown inside the parser and caught by Parse(), the only way out: a recursive-descent parser
// would otherwise check a status after every call.
struct ParseError {
  absl::Status status;
};

class ExpressionParser {
 protected:
  // `tokens` ends with a kEnd token and outlives the parser.
  explicit ExpressionParser(const std::vector<Token>& tokens) : tokens_(tokens) {}

  // Throws ParseError: INVALID_ARGUMENT "line L, column C: message".
  [[noreturn]] void Fail(Position p, absl::string_view message) const;

  // The cursor: the last token (kEnd) repeats for ever.
  const Token& Peek(std::size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& Next() {
    const Token& t = Peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  bool IsOperator(absl::string_view op, std::size_t ahead = 0) const {
    return Peek(ahead).kind == Token::Kind::kOperator && Peek(ahead).text == op;
  }
  bool IsName(absl::string_view name, std::size_t ahead = 0) const {
    return Peek(ahead).kind == Token::Kind::kName && Peek(ahead).text == name;
  }
  bool AcceptOperator(absl::string_view op);
  bool AcceptName(absl::string_view name);
  void ExpectOperator(absl::string_view op);
  void ExpectName(absl::string_view name);
  void ExpectClose();  // %}
  std::string Identifier();
  // ", found <what the next token is>", for messages.
  std::string Found() const;

  ExprPtr NewExpr(Expr::Kind kind, Position p);
  // A full expression (with inline if-else); a tuple `a, b` where a set's value allows one.
  ExprPtr ParseExpression();
  ExprPtr ParseTupleOrExpression();
  // An `or` expression: a for loop's items, before its filtering `if`.
  ExprPtr ParseOr();
  // `name(args)` applied to `operand` (nullptr in a filter block).
  ExprPtr ParseFilter(ExprPtr operand);

 private:
  ExprPtr Seal(ExprPtr expr);
  ExprPtr Binary(std::string op, ExprPtr left, ExprPtr right, Position at);
  ExprPtr ParseAnd();
  ExprPtr ParseNot();
  ExprPtr ParseCompare();
  ExprPtr ParseAdditive();
  ExprPtr ParseMultiplicative();
  ExprPtr ParsePower();
  ExprPtr ParseUnary();
  template <typename F>
  ExprPtr Nested(F parse);
  void ParseArguments(Expr& call);
  ExprPtr ParseFiltersAndTests(ExprPtr operand);
  bool StartsTestArgument() const;
  ExprPtr ParsePostfix(ExprPtr operand);
  ExprPtr ParseSubscript(ExprPtr operand, Position at);
  ExprPtr ParsePrimary();
  ExprPtr ParseParenthesized();
  ExprPtr ParseList();
  ExprPtr ParseDict();

  const std::vector<Token>& tokens_;
  std::size_t pos_ = 0;
  int expression_depth_ = 0;
};

}  // namespace ghost::jinja::internal

#endif  // GHOST_ENGINE_JINJA_EXPRESSION_PARSER_H_
