#include "engine/jinja/parser.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ghost::jinja::internal {
namespace {

// Thrown inside the parser and caught by Parse(), the only way out: a recursive-descent parser
// would otherwise check a status after every call.
struct ParseError {
  absl::Status status;
};

using TK = Token::Kind;

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : tokens_(tokens) {}

  Body ParseTemplate() {
    Body body = ParseBody({});
    if (Peek().kind != TK::kEnd) Fail(Peek().position, "unexpected tag");
    return body;
  }

 private:
  [[noreturn]] void Fail(Position p, absl::string_view message) const {
    throw ParseError{absl::InvalidArgumentError(
        absl::StrCat("line ", p.line, ", column ", p.column, ": ", message))};
  }

  const Token& Peek(std::size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& Next() {
    const Token& t = Peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  bool IsOperator(absl::string_view op, std::size_t ahead = 0) const {
    return Peek(ahead).kind == TK::kOperator && Peek(ahead).text == op;
  }
  bool IsName(absl::string_view name, std::size_t ahead = 0) const {
    return Peek(ahead).kind == TK::kName && Peek(ahead).text == name;
  }
  bool AcceptOperator(absl::string_view op) {
    if (!IsOperator(op)) return false;
    Next();
    return true;
  }
  bool AcceptName(absl::string_view name) {
    if (!IsName(name)) return false;
    Next();
    return true;
  }
  void ExpectOperator(absl::string_view op) {
    if (!AcceptOperator(op)) Fail(Peek().position, absl::StrCat("expected '", op, "'", Found()));
  }
  void ExpectName(absl::string_view name) {
    if (!AcceptName(name)) Fail(Peek().position, absl::StrCat("expected '", name, "'", Found()));
  }
  std::string Identifier() {
    if (Peek().kind != TK::kName) Fail(Peek().position, absl::StrCat("expected a name", Found()));
    return Next().text;
  }
  std::string Found() const {
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
  void ExpectClose() {
    if (Peek().kind != TK::kCloseStatement) {
      Fail(Peek().position, absl::StrCat("expected '%}'", Found()));
    }
    Next();
  }

  // Statement bodies, up to (not consuming) a {% name %} whose name is in `ends`.
  Body ParseBody(std::initializer_list<absl::string_view> ends) {
    Body body;
    while (true) {
      const Token& t = Peek();
      if (t.kind == TK::kEnd) {
        if (ends.size() > 0) {
          Fail(t.position, absl::StrCat("expected '{% ", *ends.begin(), " %}' before the end"));
        }
        return body;
      }
      if (t.kind == TK::kText) {
        auto stmt = NewStmt(Stmt::Kind::kText, t.position);
        stmt->text = Next().text;
        body.push_back(std::move(stmt));
        continue;
      }
      if (t.kind == TK::kOpenOutput) {
        Next();
        auto stmt = NewStmt(Stmt::Kind::kOutput, t.position);
        stmt->expr = ParseExpression();
        if (Peek().kind != TK::kCloseOutput) {
          Fail(Peek().position, absl::StrCat("expected '}}'", Found()));
        }
        Next();
        body.push_back(std::move(stmt));
        continue;
      }
      if (t.kind != TK::kOpenStatement) Fail(t.position, "unexpected token");
      const Token& keyword = Peek(1);
      if (keyword.kind == TK::kName &&
          std::find(ends.begin(), ends.end(), keyword.text) != ends.end()) {
        return body;
      }
      body.push_back(ParseStatement());
    }
  }

  std::unique_ptr<Stmt> NewStmt(Stmt::Kind kind, Position p) {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = kind;
    stmt->position = p;
    return stmt;
  }

  // Enters one level of block nesting; the guard leaves it.
  struct DepthGuard {
    Parser* parser;
    explicit DepthGuard(Parser* p, Position at) : parser(p) {
      if (++parser->block_depth_ > kMaxNestingDepth) {
        parser->Fail(at, absl::StrCat("blocks nest deeper than ", kMaxNestingDepth));
      }
    }
    ~DepthGuard() { --parser->block_depth_; }
  };

  std::unique_ptr<Stmt> ParseStatement() {
    Next();  // {%
    const Token& keyword = Peek();
    const Position at = keyword.position;
    if (keyword.kind != TK::kName) Fail(at, absl::StrCat("expected a statement", Found()));
    const std::string name = Next().text;
    DepthGuard guard(this, at);
    if (name == "if") return ParseIf(at);
    if (name == "for") return ParseFor(at);
    if (name == "set") return ParseSet(at);
    if (name == "macro") return ParseMacro(at);
    if (name == "call") return ParseCall(at);
    if (name == "filter") return ParseFilterBlock(at);
    if (name == "break" || name == "continue") {
      ExpectClose();
      return NewStmt(name == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue, at);
    }
    Fail(at, absl::StrCat("unsupported statement '", name, "'"));
  }

  // Consumes {% name %}.
  void EndTag(absl::string_view name) {
    Next();  // {%
    ExpectName(name);
    ExpectClose();
  }

  std::unique_ptr<Stmt> ParseIf(Position at) {
    auto stmt = NewStmt(Stmt::Kind::kIf, at);
    ExprPtr condition = ParseExpression();
    ExpectClose();
    while (true) {
      Body body = ParseBody({"elif", "else", "endif"});
      stmt->branches.emplace_back(std::move(condition), std::move(body));
      Next();  // {%
      const std::string keyword = Next().text;
      if (keyword == "elif") {
        condition = ParseExpression();
        ExpectClose();
        continue;
      }
      ExpectClose();
      if (keyword == "else") {
        stmt->else_body = ParseBody({"endif"});
        EndTag("endif");
      }
      return stmt;
    }
  }

  std::vector<std::string> Targets() {
    std::vector<std::string> targets;
    const bool parenthesized = AcceptOperator("(");
    do {
      targets.push_back(Identifier());
    } while (AcceptOperator(","));
    if (parenthesized) ExpectOperator(")");
    return targets;
  }

  std::unique_ptr<Stmt> ParseFor(Position at) {
    auto stmt = NewStmt(Stmt::Kind::kFor, at);
    stmt->targets = Targets();
    ExpectName("in");
    stmt->expr = ParseOr();  // not a conditional: a trailing `if` filters the items
    if (AcceptName("if")) stmt->condition = ParseOr();
    if (IsName("recursive")) Fail(Peek().position, "unsupported: recursive loops");
    ExpectClose();
    stmt->body = ParseBody({"else", "endfor"});
    if (IsName("else", 1)) {
      EndTag("else");
      stmt->else_body = ParseBody({"endfor"});
    }
    EndTag("endfor");
    return stmt;
  }

  std::unique_ptr<Stmt> ParseSet(Position at) {
    auto stmt = NewStmt(Stmt::Kind::kSet, at);
    if (Peek().kind == TK::kName && IsOperator(".", 1)) {
      auto object = NewExpr(Expr::Kind::kName, Peek().position);
      object->name = Next().text;
      Next();  // .
      stmt->set_object = std::move(object);
      stmt->set_attribute = Identifier();
    } else {
      stmt->targets = Targets();
    }
    if (AcceptOperator("=")) {
      stmt->expr = ParseTupleOrExpression();
      ExpectClose();
      return stmt;
    }
    if (stmt->targets.size() != 1) Fail(at, "a block set assigns exactly one name");
    ExpectClose();
    stmt->body = ParseBody({"endset"});
    EndTag("endset");
    return stmt;
  }

  std::vector<MacroParameter> Parameters() {
    std::vector<MacroParameter> parameters;
    ExpectOperator("(");
    while (!AcceptOperator(")")) {
      if (!parameters.empty()) ExpectOperator(",");
      if (AcceptOperator(")")) break;
      MacroParameter parameter;
      parameter.name = Identifier();
      if (AcceptOperator("=")) parameter.default_value = ParseExpression();
      parameters.push_back(std::move(parameter));
    }
    return parameters;
  }

  std::unique_ptr<Stmt> ParseMacro(Position at) {
    auto stmt = NewStmt(Stmt::Kind::kMacro, at);
    stmt->name = Identifier();
    stmt->parameters = Parameters();
    ExpectClose();
    stmt->body = ParseBody({"endmacro"});
    EndTag("endmacro");
    return stmt;
  }

  std::unique_ptr<Stmt> ParseCall(Position at) {
    auto stmt = NewStmt(Stmt::Kind::kCall, at);
    if (IsOperator("(")) stmt->parameters = Parameters();
    stmt->expr = ParseExpression();
    if (stmt->expr->kind != Expr::Kind::kCall) Fail(at, "{% call %} needs a macro call");
    ExpectClose();
    stmt->body = ParseBody({"endcall"});
    EndTag("endcall");
    return stmt;
  }

  std::unique_ptr<Stmt> ParseFilterBlock(Position at) {
    auto stmt = NewStmt(Stmt::Kind::kFilterBlock, at);
    stmt->expr = ParseFilter(nullptr);
    while (AcceptOperator("|")) stmt->expr = ParseFilter(std::move(stmt->expr));
    ExpectClose();
    stmt->body = ParseBody({"endfilter"});
    EndTag("endfilter");
    return stmt;
  }

  // Expressions.

  ExprPtr NewExpr(Expr::Kind kind, Position p) {
    auto expr = std::make_unique<Expr>();
    expr->kind = kind;
    expr->position = p;
    return expr;
  }

  // Sets the node's height from its children; refuses trees too deep to walk recursively.
  ExprPtr Seal(ExprPtr expr) {
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

  ExprPtr Binary(std::string op, ExprPtr left, ExprPtr right, Position at) {
    auto expr = NewExpr(Expr::Kind::kBinary, at);
    expr->name = std::move(op);
    expr->items.push_back(std::move(left));
    expr->items.push_back(std::move(right));
    return Seal(std::move(expr));
  }

  // `a, b` at the top of a set's value is a tuple.
  ExprPtr ParseTupleOrExpression() {
    const Position at = Peek().position;
    ExprPtr first = ParseExpression();
    if (!IsOperator(",")) return first;
    auto tuple = NewExpr(Expr::Kind::kTuple, at);
    tuple->items.push_back(std::move(first));
    while (AcceptOperator(",")) tuple->items.push_back(ParseExpression());
    return Seal(std::move(tuple));
  }

  ExprPtr ParseExpression() {
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

  ExprPtr ParseOr() {
    ExprPtr left = ParseAnd();
    while (IsName("or")) {
      const Position at = Next().position;
      left = Binary("or", std::move(left), ParseAnd(), at);
    }
    return left;
  }

  ExprPtr ParseAnd() {
    ExprPtr left = ParseNot();
    while (IsName("and")) {
      const Position at = Next().position;
      left = Binary("and", std::move(left), ParseNot(), at);
    }
    return left;
  }

  ExprPtr ParseNot() {
    if (!IsName("not")) return ParseCompare();
    const Position at = Next().position;
    auto expr = NewExpr(Expr::Kind::kUnary, at);
    expr->name = "not";
    expr->items.push_back(Nested([&] { return ParseNot(); }));
    return Seal(std::move(expr));
  }

  ExprPtr ParseCompare() {
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

  ExprPtr ParseAdditive() {
    ExprPtr left = ParseMultiplicative();
    while (IsOperator("+") || IsOperator("-") || IsOperator("~")) {
      const Token& op = Next();
      left = Binary(op.text, std::move(left), ParseMultiplicative(), op.position);
    }
    return left;
  }

  ExprPtr ParseMultiplicative() {
    ExprPtr left = ParsePower();
    while (IsOperator("*") || IsOperator("/") || IsOperator("//") || IsOperator("%")) {
      const Token& op = Next();
      left = Binary(op.text, std::move(left), ParsePower(), op.position);
    }
    return left;
  }

  ExprPtr ParsePower() {
    ExprPtr left = ParseUnary();
    while (IsOperator("**")) {
      const Token& op = Next();
      left = Binary("**", std::move(left), ParseUnary(), op.position);
    }
    return left;
  }

  ExprPtr ParseUnary() {
    if (IsOperator("-") || IsOperator("+")) {
      const Token& op = Next();
      auto expr = NewExpr(Expr::Kind::kUnary, op.position);
      expr->name = op.text;
      expr->items.push_back(Nested([&] { return ParseUnary(); }));
      return Seal(std::move(expr));
    }
    return ParseFiltersAndTests(ParsePostfix(ParsePrimary()));
  }

  // Recursion that does not build a node per level until it returns (unary chains, brackets):
  // counted here so that "((((((..." cannot exhaust the stack before Seal sees the depth.
  template <typename F>
  ExprPtr Nested(F parse) {
    if (++expression_depth_ > kMaxNestingDepth) {
      Fail(Peek().position, absl::StrCat("an expression nests deeper than ", kMaxNestingDepth));
    }
    ExprPtr expr = parse();
    --expression_depth_;
    return expr;
  }

  void ParseArguments(Expr& call) {
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

  ExprPtr ParseFilter(ExprPtr operand) {
    const Position at = Peek().position;
    auto filter = NewExpr(Expr::Kind::kFilter, at);
    filter->name = Identifier();
    while (AcceptOperator(".")) filter->name += "." + Identifier();
    filter->items.push_back(std::move(operand));
    if (AcceptOperator("(")) ParseArguments(*filter);
    return Seal(std::move(filter));
  }

  ExprPtr ParseFiltersAndTests(ExprPtr operand) {
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
  bool StartsTestArgument() const {
    const Token& t = Peek();
    if (t.kind == TK::kString || t.kind == TK::kInteger || t.kind == TK::kFloat) return true;
    if (t.kind != TK::kName) return false;
    static constexpr absl::string_view kKeywords[] = {"and", "or", "not", "in", "is", "if", "else"};
    return std::find(std::begin(kKeywords), std::end(kKeywords), t.text) == std::end(kKeywords);
  }

  ExprPtr ParsePostfix(ExprPtr operand) {
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

  ExprPtr ParseSubscript(ExprPtr operand, Position at) {
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

  ExprPtr ParsePrimary() {
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

  ExprPtr ParseParenthesized() {
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

  ExprPtr ParseList() {
    const Position at = Next().position;  // [
    auto list = NewExpr(Expr::Kind::kList, at);
    while (!AcceptOperator("]")) {
      if (!list->items.empty()) ExpectOperator(",");
      if (AcceptOperator("]")) break;
      list->items.push_back(ParseExpression());
    }
    return Seal(std::move(list));
  }

  ExprPtr ParseDict() {
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

  const std::vector<Token>& tokens_;
  std::size_t pos_ = 0;
  int block_depth_ = 0;
  int expression_depth_ = 0;
};

}  // namespace

absl::StatusOr<Body> Parse(const std::vector<Token>& tokens) {
  try {
    return Parser(tokens).ParseTemplate();
  } catch (const ParseError& error) {
    return error.status;
  }
}

}  // namespace ghost::jinja::internal
