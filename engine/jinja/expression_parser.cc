#include "engine/jinja/expression_parser.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ghost::jinja::internal {

using TK = Token::Kind;

void ExpressionParser::Fail(Position p, absl::string_view message) const {
  throw ParseError{absl::InvalidArgumentError(
      absl::StrCat("line ", p.line, ", column ", p.column, ": ", message))};
}

std::string ExpressionParser::Found() const {
  const Token& t = Peek();
  switch (t.kind) {
    case TK::kEnd:
      return ", found the end of the template";
    case TK::kText:
      return ", found text";
    case TK::kCloseStatement:
    case TK::kCloseOutput:
      return absl::StrCat(", found '", t.text, "'");
    case TK::kString:
      return ", found a string";
    default:
      return absl::StrCat(", found '", t.text, "'");
  }
}

bool ExpressionParser::AcceptOperator(absl::string_view op) {
  if (!IsOperator(op)) return false;
  Next();
  return true;
}

bool ExpressionParser::AcceptName(absl::string_view name) {
  if (!IsName(name)) return false;
  Next();
  return true;
}

void ExpressionParser::ExpectOperator(absl::string_view op) {
  if (!AcceptOperator(op)) Fail(Peek().position, absl::StrCat("expected '", op, "'", Found()));
}

void ExpressionParser::ExpectName(absl::string_view name) {
  if (!AcceptName(name)) Fail(Peek().position, absl::StrCat("expected '", name, "'", Found()));
}

void ExpressionParser::ExpectClose() {
  if (Peek().kind != TK::kCloseStatement) {
    Fail(Peek().position, absl::StrCat("expected '%}'", Found()));
  }
  Next();
}

std::string ExpressionParser::Identifier() {
  if (Peek().kind != TK::kName) Fail(Peek().position, absl::StrCat("expected a name", Found()));
  return Next().text;
}

// Recursion that does not build a node per level until it returns (unary chains, brackets):
// counted here so that "((((((..." cannot exhaust the stack before Seal sees the depth.
template <typename F>
ExprPtr ExpressionParser::Nested(F parse) {
  if (++expression_depth_ > kMaxNestingDepth) {
    Fail(Peek().position, absl::StrCat("an expression nests deeper than ", kMaxNestingDepth));
  }
  ExprPtr expr = parse();
  --expression_depth_;
  return expr;
}

ExprPtr ExpressionParser::NewExpr(Expr::Kind kind, Position p) {
  auto expr = std::make_unique<Expr>();
  expr->kind = kind;
  expr->position = p;
  return expr;
}

// Sets the node's height from its children; refuses trees too deep to walk recursively.
ExprPtr ExpressionParser::Seal(ExprPtr expr) {
  int depth = 0;
  for (const ExprPtr& item : expr->items) {
    if (item) depth = std::max(depth, item->depth);
  }
  for (const auto& [name, item] : expr->keywords) depth = std::max(depth, item->depth);
  expr->depth = depth + 1;
  if (expr->depth > kMaxNestingDepth) {
    Fail(expr->position, absl::StrCat("an expression nests deeper than ", kMaxNestingDepth));
  }
  return expr;
}

ExprPtr ExpressionParser::Binary(std::string op, ExprPtr left, ExprPtr right, Position at) {
  auto expr = NewExpr(Expr::Kind::kBinary, at);
  expr->name = std::move(op);
  expr->items.push_back(std::move(left));
  expr->items.push_back(std::move(right));
  return Seal(std::move(expr));
}

// `a, b` at the top of a set's value is a tuple.
ExprPtr ExpressionParser::ParseTupleOrExpression() {
  const Position at = Peek().position;
  ExprPtr first = ParseExpression();
  if (!IsOperator(",")) return first;
  auto tuple = NewExpr(Expr::Kind::kTuple, at);
  tuple->items.push_back(std::move(first));
  while (AcceptOperator(",")) tuple->items.push_back(ParseExpression());
  return Seal(std::move(tuple));
}

ExprPtr ExpressionParser::ParseExpression() {
  const Position at = Peek().position;
  ExprPtr value = ParseOr();
  while (AcceptName("if")) {
    auto conditional = NewExpr(Expr::Kind::kConditional, at);
    conditional->items.push_back(std::move(value));
    conditional->items.push_back(ParseOr());
    conditional->items.push_back(AcceptName("else") ? ParseOr() : nullptr);
    value = Seal(std::move(conditional));
  }
  return value;
}

ExprPtr ExpressionParser::ParseOr() {
  ExprPtr left = ParseAnd();
  while (IsName("or")) {
    const Position at = Next().position;
    left = Binary("or", std::move(left), ParseAnd(), at);
  }
  return left;
}

ExprPtr ExpressionParser::ParseAnd() {
  ExprPtr left = ParseNot();
  while (IsName("and")) {
    const Position at = Next().position;
    left = Binary("and", std::move(left), ParseNot(), at);
  }
  return left;
}

ExprPtr ExpressionParser::ParseNot() {
  if (!IsName("not")) return ParseCompare();
  const Position at = Next().position;
  auto expr = NewExpr(Expr::Kind::kUnary, at);
  expr->name = "not";
  expr->items.push_back(Nested([&] { return ParseNot(); }));
  return Seal(std::move(expr));
}

ExprPtr ExpressionParser::ParseCompare() {
  ExprPtr left = ParseAdditive();
  while (true) {
    const Token& t = Peek();
    std::string op;
    if (t.kind == TK::kOperator && (t.text == "==" || t.text == "!=" || t.text == "<" ||
                                    t.text == ">" || t.text == "<=" || t.text == ">=")) {
      op = t.text;
      Next();
    } else if (IsName("in")) {
      op = "in";
      Next();
    } else if (IsName("not") && IsName("in", 1)) {
      op = "not in";
      Next();
      Next();
    } else {
      return left;
    }
    left = Binary(op, std::move(left), ParseAdditive(), t.position);
  }
}

ExprPtr ExpressionParser::ParseAdditive() {
  ExprPtr left = ParseMultiplicative();
  while (IsOperator("+") || IsOperator("-") || IsOperator("~")) {
    const Token& op = Next();
    left = Binary(op.text, std::move(left), ParseMultiplicative(), op.position);
  }
  return left;
}

ExprPtr ExpressionParser::ParseMultiplicative() {
  ExprPtr left = ParsePower();
  while (IsOperator("*") || IsOperator("/") || IsOperator("//") || IsOperator("%")) {
    const Token& op = Next();
    left = Binary(op.text, std::move(left), ParsePower(), op.position);
  }
  return left;
}

ExprPtr ExpressionParser::ParsePower() {
  ExprPtr left = ParseUnary();
  while (IsOperator("**")) {
    const Token& op = Next();
    left = Binary("**", std::move(left), ParseUnary(), op.position);
  }
  return left;
}

ExprPtr ExpressionParser::ParseUnary() {
  if (IsOperator("-") || IsOperator("+")) {
    const Token& op = Next();
    auto expr = NewExpr(Expr::Kind::kUnary, op.position);
    expr->name = op.text;
    expr->items.push_back(Nested([&] { return ParseUnary(); }));
    return Seal(std::move(expr));
  }
  return ParseFiltersAndTests(ParsePostfix(ParsePrimary()));
}

void ExpressionParser::ParseArguments(Expr& call) {
  // `(` already consumed.
  while (!AcceptOperator(")")) {
    if (call.items.size() > 1 || !call.keywords.empty()) ExpectOperator(",");
    if (AcceptOperator(")")) break;
    if (Peek().kind == TK::kName && IsOperator("=", 1)) {
      std::string name = Next().text;
      Next();  // =
      call.keywords.emplace_back(std::move(name), Nested([&] { return ParseExpression(); }));
    } else {
      if (!call.keywords.empty())
        Fail(Peek().position, "a positional argument follows a keyword argument");
      call.items.push_back(Nested([&] { return ParseExpression(); }));
    }
  }
}

ExprPtr ExpressionParser::ParseFilter(ExprPtr operand) {
  const Position at = Peek().position;
  auto filter = NewExpr(Expr::Kind::kFilter, at);
  filter->name = Identifier();
  while (AcceptOperator(".")) filter->name += "." + Identifier();
  filter->items.push_back(std::move(operand));
  if (AcceptOperator("(")) ParseArguments(*filter);
  return Seal(std::move(filter));
}

ExprPtr ExpressionParser::ParseFiltersAndTests(ExprPtr operand) {
  while (true) {
    if (AcceptOperator("|")) {
      operand = ParseFilter(std::move(operand));
    } else if (IsName("is")) {
      const Position at = Next().position;
      auto test = NewExpr(Expr::Kind::kTest, at);
      test->negated = AcceptName("not");
      test->name = Identifier();
      test->items.push_back(std::move(operand));
      if (AcceptOperator("(")) {
        ParseArguments(*test);
      } else if (StartsTestArgument()) {
        test->items.push_back(ParsePostfix(ParsePrimary()));
      }
      operand = Seal(std::move(test));
    } else {
      return operand;
    }
  }
}

// `x is divisibleby 3`, `x is equalto y`: one argument without brackets.
bool ExpressionParser::StartsTestArgument() const {
  const Token& t = Peek();
  if (t.kind == TK::kString || t.kind == TK::kInteger || t.kind == TK::kFloat) return true;
  if (t.kind != TK::kName) return false;
  static constexpr absl::string_view kKeywords[] = {"and", "or", "not", "in", "is", "if", "else"};
  return std::find(std::begin(kKeywords), std::end(kKeywords), t.text) == std::end(kKeywords);
}

ExprPtr ExpressionParser::ParsePostfix(ExprPtr operand) {
  while (true) {
    const Position at = Peek().position;
    if (AcceptOperator(".")) {
      auto expr = NewExpr(Expr::Kind::kAttribute, at);
      if (Peek().kind == TK::kInteger) {
        expr->kind = Expr::Kind::kSubscript;
        expr->items.push_back(std::move(operand));
        auto index = NewExpr(Expr::Kind::kLiteral, at);
        index->value = Value::Int(std::strtoll(Next().text.c_str(), nullptr, 10));
        expr->items.push_back(std::move(index));
      } else {
        expr->name = Identifier();
        expr->items.push_back(std::move(operand));
      }
      operand = Seal(std::move(expr));
    } else if (AcceptOperator("[")) {
      operand = Seal(ParseSubscript(std::move(operand), at));
    } else if (AcceptOperator("(")) {
      auto call = NewExpr(Expr::Kind::kCall, at);
      call->items.push_back(std::move(operand));
      ParseArguments(*call);
      operand = Seal(std::move(call));
    } else {
      return operand;
    }
  }
}

ExprPtr ExpressionParser::ParseSubscript(ExprPtr operand, Position at) {
  // `[` consumed: an index, or a slice start:stop:step with any part omitted.
  ExprPtr parts[3];
  int colons = 0;
  if (!IsOperator(":")) parts[0] = Nested([&] { return ParseExpression(); });
  while (colons < 2 && AcceptOperator(":")) {
    ++colons;
    if (!IsOperator(":") && !IsOperator("]")) {
      parts[colons] = Nested([&] { return ParseExpression(); });
    }
  }
  ExpectOperator("]");
  auto expr = NewExpr(colons == 0 ? Expr::Kind::kSubscript : Expr::Kind::kSlice, at);
  expr->items.push_back(std::move(operand));
  if (colons == 0) {
    if (!parts[0]) Fail(at, "empty subscript");
    expr->items.push_back(std::move(parts[0]));
  } else {
    for (ExprPtr& part : parts) expr->items.push_back(std::move(part));
  }
  return expr;
}

ExprPtr ExpressionParser::ParsePrimary() {
  const Token& t = Peek();
  const Position at = t.position;
  switch (t.kind) {
    case TK::kString: {
      auto expr = NewExpr(Expr::Kind::kLiteral, at);
      std::string text = Next().text;
      // Adjacent string literals concatenate, as in Python.
      while (Peek().kind == TK::kString) text += Next().text;
      expr->value = Value::String(std::move(text));
      return expr;
    }
    case TK::kInteger: {
      auto expr = NewExpr(Expr::Kind::kLiteral, at);
      std::int64_t value = 0;
      const std::string& text = Next().text;
      const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
      expr->value = result.ec == std::errc() ? Value::Int(value)
                                             : Value::Float(std::strtod(text.c_str(), nullptr));
      return expr;
    }
    case TK::kFloat: {
      auto expr = NewExpr(Expr::Kind::kLiteral, at);
      expr->value = Value::Float(std::strtod(Next().text.c_str(), nullptr));
      return expr;
    }
    case TK::kName: {
      auto expr = NewExpr(Expr::Kind::kName, at);
      expr->name = Next().text;
      return expr;
    }
    case TK::kOperator:
      if (t.text == "(") return Nested([&] { return ParseParenthesized(); });
      if (t.text == "[") return Nested([&] { return ParseList(); });
      if (t.text == "{") return Nested([&] { return ParseDict(); });
      break;
    default:
      break;
  }
  Fail(at, absl::StrCat("expected an expression", Found()));
}

ExprPtr ExpressionParser::ParseParenthesized() {
  const Position at = Next().position;  // (
  if (AcceptOperator(")")) return Seal(NewExpr(Expr::Kind::kTuple, at));
  ExprPtr first = ParseExpression();
  if (AcceptOperator(")")) return first;
  auto tuple = NewExpr(Expr::Kind::kTuple, at);
  tuple->items.push_back(std::move(first));
  while (AcceptOperator(",")) {
    if (IsOperator(")")) break;
    tuple->items.push_back(ParseExpression());
  }
  ExpectOperator(")");
  return Seal(std::move(tuple));
}

ExprPtr ExpressionParser::ParseList() {
  const Position at = Next().position;  // [
  auto list = NewExpr(Expr::Kind::kList, at);
  while (!AcceptOperator("]")) {
    if (!list->items.empty()) ExpectOperator(",");
    if (AcceptOperator("]")) break;
    list->items.push_back(ParseExpression());
  }
  return Seal(std::move(list));
}

ExprPtr ExpressionParser::ParseDict() {
  const Position at = Next().position;  // {
  auto dict = NewExpr(Expr::Kind::kDict, at);
  while (!AcceptOperator("}")) {
    if (!dict->items.empty()) ExpectOperator(",");
    if (AcceptOperator("}")) break;
    dict->items.push_back(ParseExpression());
    ExpectOperator(":");
    dict->items.push_back(ParseExpression());
  }
  return Seal(std::move(dict));
}

}  // namespace ghost::jinja::internal
