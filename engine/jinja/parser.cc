#include "engine/jinja/parser.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/jinja/expression_parser.h"

namespace ghost::jinja::internal {
namespace {

using TK = Token::Kind;

// The statements; expressions and the token cursor come from ExpressionParser.
class Parser : public ExpressionParser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : ExpressionParser(tokens) {}

  Body ParseTemplate() {
    Body body = ParseBody({});
    if (Peek().kind != TK::kEnd) Fail(Peek().position, "unexpected tag");
    return body;
  }

 private:
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

  int block_depth_ = 0;
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
