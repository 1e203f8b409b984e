// The evaluator: walks the statement tree with scopes, writing the output as it goes.
#include "engine/jinja/template.h"

#include <cmath>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/jinja/ast.h"
#include "engine/jinja/builtins.h"
#include "engine/jinja/lexer.h"
#include "engine/jinja/parser.h"

namespace ghost::jinja {
namespace internal {
namespace {

// Variables of one block level. Scopes live in the interpreter's arena until the rendering
// ends, so a macro can refer to the scope it was defined in without owning it (no cycles).
struct Scope {
  Scope* parent = nullptr;
  absl::flat_hash_map<std::string, Value> variables;

  const Value* Find(absl::string_view name) const {
    for (const Scope* s = this; s != nullptr; s = s->parent) {
      const auto it = s->variables.find(name);
      if (it != s->variables.end()) return &it->second;
    }
    return nullptr;
  }
};

enum class Flow { kNormal, kBreak, kContinue };

class Interpreter {
 public:
  Interpreter(const Mapping& globals, const RenderLimits& limits) : budget_(limits) {
    Scope* root = NewScope(nullptr);
    for (const auto& [name, value] : globals.entries()) root->variables[name] = value;
    top_ = NewScope(root);
  }

  std::string Run(const Body& body) {
    std::string out;
    RenderBody(body, *top_, out);
    return out;
  }

 private:
  // Counts one level of recursion; the guard leaves it.
  struct DepthGuard {
    Interpreter* self;
    DepthGuard(Interpreter* s, Position at) : self(s) {
      if (++self->depth_ > self->budget_.limits().max_depth) {
        Throw(at, absl::StrCat("the template nests deeper than ", self->budget_.limits().max_depth,
                               " levels (max_depth)"));
      }
    }
    ~DepthGuard() { --self->depth_; }
  };

  Scope* NewScope(Scope* parent) {
    scopes_.push_back(std::make_unique<Scope>());
    scopes_.back()->parent = parent;
    return scopes_.back().get();
  }

  void Append(std::string& out, std::string_view text, Position at) {
    budget_.CheckSize(out.size() + text.size(), at);
    out += text;
  }

  Flow RenderBody(const Body& body, Scope& scope, std::string& out) {
    for (const std::unique_ptr<Stmt>& stmt : body) {
      const Flow flow = Render(*stmt, scope, out);
      if (flow != Flow::kNormal) return flow;
    }
    return Flow::kNormal;
  }

  Flow Render(const Stmt& stmt, Scope& scope, std::string& out) {
    DepthGuard guard(this, stmt.position);
    budget_.Step(stmt.position);
    switch (stmt.kind) {
      case Stmt::Kind::kText:
        Append(out, stmt.text, stmt.position);
        return Flow::kNormal;
      case Stmt::Kind::kOutput: {
        const Value value = Eval(*stmt.expr, scope);
        Append(out, value.ToString(), stmt.position);
        return Flow::kNormal;
      }
      case Stmt::Kind::kIf:
        for (const auto& [condition, body] : stmt.branches) {
          if (Eval(*condition, scope).Truthy()) return RenderBody(body, scope, out);
        }
        return RenderBody(stmt.else_body, scope, out);
      case Stmt::Kind::kFor:
        RenderFor(stmt, scope, out);
        return Flow::kNormal;
      case Stmt::Kind::kSet:
        ExecuteSet(stmt, scope);
        return Flow::kNormal;
      case Stmt::Kind::kMacro:
        scope.variables[stmt.name] = MakeMacro(stmt, scope);
        return Flow::kNormal;
      case Stmt::Kind::kCall: {
        const Expr& call = *stmt.expr;
        Value callee = Eval(*call.items[0], scope);
        CallArguments args = EvalArguments(call, scope);
        args.keyword.emplace_back("caller", MakeMacro(stmt, scope));
        Append(out, CallValue(callee, args, call.position).ToString(), stmt.position);
        return Flow::kNormal;
      }
      case Stmt::Kind::kFilterBlock: {
        std::string text;
        RenderBody(stmt.body, *NewScope(&scope), text);
        const Value saved = filter_input_;
        filter_input_ = Value::String(std::move(text));
        const Value value = Eval(*stmt.expr, scope);
        filter_input_ = saved;
        Append(out, value.ToString(), stmt.position);
        return Flow::kNormal;
      }
      case Stmt::Kind::kBreak:
        return Flow::kBreak;
      case Stmt::Kind::kContinue:
        return Flow::kContinue;
    }
    return Flow::kNormal;
  }

  void Bind(Scope& scope, const std::vector<std::string>& targets, const Value& value,
            Position at) {
    if (targets.size() == 1) {
      scope.variables[targets[0]] = value;
      return;
    }
    if (!value.is_list() || value.as_list().size() != targets.size()) {
      Throw(at,
            absl::StrCat("cannot unpack ", value.TypeName(), " into ", targets.size(), " names"));
    }
    for (std::size_t i = 0; i < targets.size(); ++i) {
      scope.variables[targets[i]] = value.as_list()[i];
    }
  }

  std::vector<Value> Iterate(const Value& value, Position at) {
    switch (value.kind()) {
      case Value::Kind::kList:
        return value.as_list();
      case Value::Kind::kMapping: {
        std::vector<Value> keys;
        for (const auto& entry : value.as_mapping().entries()) {
          keys.push_back(Value::String(entry.first));
        }
        return keys;
      }
      case Value::Kind::kString:
        return GetAttribute(value, "__chars__", budget_, at).as_list();
      default:
        Throw(at, absl::StrCat("cannot loop over ", value.TypeName()));
    }
  }

  void RenderFor(const Stmt& stmt, Scope& outer, std::string& out) {
    Scope& scope = *NewScope(&outer);
    std::vector<Value> items = Iterate(Eval(*stmt.expr, scope), stmt.position);
    if (stmt.condition) {
      std::vector<Value> kept;
      for (Value& item : items) {
        budget_.Step(stmt.position);
        Scope& test_scope = *NewScope(&scope);
        Bind(test_scope, stmt.targets, item, stmt.position);
        if (Eval(*stmt.condition, test_scope).Truthy()) kept.push_back(std::move(item));
      }
      items = std::move(kept);
    }
    bool iterated = false;
    const std::int64_t length = static_cast<std::int64_t>(items.size());
    for (std::int64_t i = 0; i < length; ++i) {
      budget_.Step(stmt.position);
      Mapping loop;
      loop.Set("index", Value::Int(i + 1));
      loop.Set("index0", Value::Int(i));
      loop.Set("revindex", Value::Int(length - i));
      loop.Set("revindex0", Value::Int(length - i - 1));
      loop.Set("first", Value::Bool(i == 0));
      loop.Set("last", Value::Bool(i == length - 1));
      loop.Set("length", Value::Int(length));
      loop.Set("previtem", i > 0 ? items[i - 1] : Value());
      loop.Set("nextitem", i + 1 < length ? items[i + 1] : Value());
      scope.variables["loop"] = Value::Map(std::move(loop));
      Bind(scope, stmt.targets, items[i], stmt.position);
      const Flow flow = RenderBody(stmt.body, scope, out);
      if (flow == Flow::kBreak) break;
      if (flow == Flow::kContinue) continue;
      iterated = true;
    }
    if (!iterated) RenderBody(stmt.else_body, scope, out);
  }

  void ExecuteSet(const Stmt& stmt, Scope& scope) {
    Value value;
    if (stmt.expr) {
      value = Eval(*stmt.expr, scope);
    } else {
      std::string text;
      RenderBody(stmt.body, *NewScope(&scope), text);
      value = Value::String(std::move(text));
    }
    if (stmt.set_object) {
      const Value object = Eval(*stmt.set_object, scope);
      if (object.kind() != Value::Kind::kNamespace) {
        Throw(stmt.position, absl::StrCat("cannot set an attribute of ", object.TypeName(),
                                          " (only of a namespace)"));
      }
      // Namespaces are the only values that change after they are made; one that could hold a
      // namespace could hold itself, and a cycle would never be freed or printed.
      if (value.holds_namespace()) {
        Throw(stmt.position, "a namespace attribute cannot hold a namespace");
      }
      object.mutable_namespace().Set(stmt.set_attribute, std::move(value));
      return;
    }
    Bind(scope, stmt.targets, value, stmt.position);
  }

  // A macro (or a call block's caller): parameters bound from positional then keyword
  // arguments, defaults evaluated in the macro's scope, `caller` when a call block passes one.
  Value MakeMacro(const Stmt& stmt, Scope& defined_in) {
    const Stmt* macro = &stmt;
    Scope* closure = &defined_in;
    return Value::Callable([this, macro, closure](CallArguments& args) {
      DepthGuard guard(this, macro->position);
      Scope& scope = *NewScope(closure);
      for (std::size_t i = 0; i < macro->parameters.size(); ++i) {
        const MacroParameter& parameter = macro->parameters[i];
        const Value* given = i < args.positional.size() ? &args.positional[i] : nullptr;
        for (const auto& [name, value] : args.keyword) {
          if (name == parameter.name) given = &value;
        }
        if (given != nullptr) {
          scope.variables[parameter.name] = *given;
        } else {
          scope.variables[parameter.name] =
              parameter.default_value ? Eval(*parameter.default_value, scope) : Value();
        }
      }
      for (const auto& [name, value] : args.keyword) {
        if (name == "caller") scope.variables["caller"] = value;
      }
      std::string text;
      RenderBody(macro->body, scope, text);
      return Value::String(std::move(text));
    });
  }

  CallArguments EvalArguments(const Expr& call, Scope& scope) {
    CallArguments args;
    for (std::size_t i = 1; i < call.items.size(); ++i) {
      args.positional.push_back(Eval(*call.items[i], scope));
    }
    for (const auto& [name, expr] : call.keywords) {
      args.keyword.emplace_back(name, Eval(*expr, scope));
    }
    return args;
  }

  Value CallValue(const Value& callee, CallArguments& args, Position at) {
    if (callee.kind() != Value::Kind::kFunction) {
      Throw(at, absl::StrCat("cannot call ", callee.TypeName()));
    }
    try {
      return callee.as_function()(args);
    } catch (RenderError& error) {
      if (error.position.line == 0) error.position = at;
      throw;
    }
  }

  Value Eval(const Expr& expr, Scope& scope) {
    DepthGuard guard(this, expr.position);
    budget_.Step(expr.position);
    Value value = EvalUncharged(expr, scope);
    budget_.Charge(value, expr.position);
    return value;
  }

  Value EvalUncharged(const Expr& expr, Scope& scope) {
    switch (expr.kind) {
      case Expr::Kind::kLiteral:
        return expr.value;
      case Expr::Kind::kName: {
        if (const Value* value = scope.Find(expr.name)) return *value;
        return Global(expr.name, budget_);
      }
      case Expr::Kind::kList:
      case Expr::Kind::kTuple: {
        std::vector<Value> items;
        for (const ExprPtr& item : expr.items) items.push_back(Eval(*item, scope));
        return Value::List(std::move(items));
      }
      case Expr::Kind::kDict: {
        Mapping mapping;
        for (std::size_t i = 0; i + 1 < expr.items.size(); i += 2) {
          const Value key = Eval(*expr.items[i], scope);
          if (!key.is_string()) {
            Throw(expr.items[i]->position,
                  absl::StrCat("a dict key must be a string, not ", key.TypeName()));
          }
          mapping.Set(key.as_string(), Eval(*expr.items[i + 1], scope));
        }
        return Value::Map(std::move(mapping));
      }
      case Expr::Kind::kAttribute:
        return GetAttribute(Eval(*expr.items[0], scope), expr.name, budget_, expr.position);
      case Expr::Kind::kSubscript:
        return GetItem(Eval(*expr.items[0], scope), Eval(*expr.items[1], scope), expr.position);
      case Expr::Kind::kSlice: {
        Value bounds[3];
        for (int i = 0; i < 3; ++i) {
          if (expr.items[i + 1]) bounds[i] = Eval(*expr.items[i + 1], scope);
        }
        return Slice(Eval(*expr.items[0], scope), bounds[0], bounds[1], bounds[2], expr.position);
      }
      case Expr::Kind::kCall: {
        const Value callee = Eval(*expr.items[0], scope);
        CallArguments args = EvalArguments(expr, scope);
        if (callee.kind() != Value::Kind::kFunction) {
          const Expr& target = *expr.items[0];
          const std::string what = target.kind == Expr::Kind::kName        ? target.name
                                   : target.kind == Expr::Kind::kAttribute ? "." + target.name
                                                                           : "the expression";
          Throw(expr.position, absl::StrCat("cannot call '", what, "': it is ", callee.TypeName(),
                                            ", not a function or method"));
        }
        return CallValue(callee, args, expr.position);
      }
      case Expr::Kind::kFilter: {
        const Value operand = expr.items[0] ? Eval(*expr.items[0], scope) : filter_input_;
        CallArguments args = EvalArguments(expr, scope);
        return ApplyFilter(expr.name, operand, args, budget_, expr.position);
      }
      case Expr::Kind::kTest: {
        const Value operand = Eval(*expr.items[0], scope);
        CallArguments args = EvalArguments(expr, scope);
        return Value::Bool(ApplyTest(expr.name, operand, args, expr.position) != expr.negated);
      }
      case Expr::Kind::kUnary:
        return EvalUnary(expr, Eval(*expr.items[0], scope));
      case Expr::Kind::kBinary:
        return EvalBinary(expr, scope);
      case Expr::Kind::kConditional:
        if (Eval(*expr.items[1], scope).Truthy()) return Eval(*expr.items[0], scope);
        return expr.items[2] ? Eval(*expr.items[2], scope) : Value();
    }
    return Value();
  }

  Value EvalUnary(const Expr& expr, const Value& operand) {
    if (expr.name == "not") return Value::Bool(!operand.Truthy());
    if (operand.kind() == Value::Kind::kInt) {
      return Value::Int(expr.name == "-" ? -operand.as_int() : operand.as_int());
    }
    if (operand.kind() == Value::Kind::kFloat) {
      return Value::Float(expr.name == "-" ? -operand.as_number() : operand.as_number());
    }
    Throw(expr.position, absl::StrCat("unary ", expr.name, " on ", operand.TypeName()));
  }

  Value EvalBinary(const Expr& expr, Scope& scope);

  Budget budget_;
  int depth_ = 0;
  std::vector<std::unique_ptr<Scope>> scopes_;
  Scope* top_ = nullptr;
  Value filter_input_;  // the body text of the {% filter %} block being applied
};

// Binary operators with the reference's rules: and/or short-circuit and return an operand;
// == treats undefined and none alike and compares numbers across int/float; + joins lists, adds
// numbers and otherwise concatenates text; ~ always concatenates (undefined as "").
Value Interpreter::EvalBinary(const Expr& expr, Scope& scope) {
  const std::string& op = expr.name;
  const Value left = Eval(*expr.items[0], scope);
  if (op == "and") return left.Truthy() ? Eval(*expr.items[1], scope) : left;
  if (op == "or") return left.Truthy() ? left : Eval(*expr.items[1], scope);
  const Value right = Eval(*expr.items[1], scope);
  const Position at = expr.position;
  auto loose_equal = [](const Value& a, const Value& b) {
    const bool a_nothing = a.is_undefined() || a.is_none();
    const bool b_nothing = b.is_undefined() || b.is_none();
    if (a_nothing || b_nothing) return a_nothing && b_nothing;
    if (a.kind() == Value::Kind::kBool && b.is_number())
      return (a.as_bool() ? 1 : 0) == b.as_number();
    if (b.kind() == Value::Kind::kBool && a.is_number())
      return (b.as_bool() ? 1 : 0) == a.as_number();
    return a.Equals(b);
  };
  if (op == "==") return Value::Bool(loose_equal(left, right));
  if (op == "!=") return Value::Bool(!loose_equal(left, right));
  if (op == "in" || op == "not in") {
    bool found = false;
    if (right.is_list()) {
      for (const Value& item : right.as_list()) {
        if (item.kind() == left.kind() && item.Equals(left)) found = true;
      }
    } else if (right.is_string() && left.is_string()) {
      found = right.as_string().find(left.as_string()) != std::string::npos;
    } else if (right.has_attributes() && left.is_string()) {
      found = right.as_mapping().Find(left.as_string()) != nullptr;
    } else if (!right.is_undefined()) {
      Throw(at, absl::StrCat("'", op, "' between ", left.TypeName(), " and ", right.TypeName()));
    }
    return Value::Bool(found != (op == "not in"));
  }
  if (op == "~") {
    if (left.is_none() || right.is_none()) Throw(at, "'~' on none");
    std::string text = ConcatText(left);
    const std::string tail = ConcatText(right);
    budget_.CheckSize(text.size() + tail.size(), at);
    return Value::String(text + tail);
  }
  if (left.is_number() && right.is_number()) {
    const bool is_int = left.kind() == Value::Kind::kInt && right.kind() == Value::Kind::kInt;
    const double a = left.as_number();
    const double b = right.as_number();
    if (op == "<") return Value::Bool(a < b);
    if (op == ">") return Value::Bool(a > b);
    if (op == "<=") return Value::Bool(a <= b);
    if (op == ">=") return Value::Bool(a >= b);
    if (op == "/") return Value::Float(a / b);
    std::int64_t result = 0;
    if (is_int) {
      const std::int64_t x = left.as_int();
      const std::int64_t y = right.as_int();
      if (op == "+" && !__builtin_add_overflow(x, y, &result)) return Value::Int(result);
      if (op == "-" && !__builtin_sub_overflow(x, y, &result)) return Value::Int(result);
      if (op == "*" && !__builtin_mul_overflow(x, y, &result)) return Value::Int(result);
      if ((op == "//" || op == "%") && y == 0) Throw(at, absl::StrCat("'", op, "' by zero"));
      if (op == "//" && !(x == INT64_MIN && y == -1)) {
        return Value::Int(x / y - ((x % y != 0 && ((x < 0) != (y < 0))) ? 1 : 0));
      }
      if (op == "%" && y != -1) return Value::Int(x % y);
    }
    double value = 0;
    if (op == "+")
      value = a + b;
    else if (op == "-")
      value = a - b;
    else if (op == "*")
      value = a * b;
    else if (op == "//")
      value = std::floor(a / b);
    else if (op == "%")
      value = std::fmod(a, b);
    else if (op == "**")
      value = std::pow(a, b);
    else
      Throw(at, absl::StrCat("unknown operator '", op, "'"));
    if (op == "**" && !std::isfinite(value)) Throw(at, "'**' result is not a finite number");
    if (is_int && (op == "**") && b >= 0 && std::fabs(value) < 9.0e15) {
      return Value::Int(static_cast<std::int64_t>(value));
    }
    return Value::Float(value);
  }
  if ((op == "<" || op == ">" || op == "<=" || op == ">=") && left.is_string() &&
      right.is_string()) {
    const int c = left.as_string().compare(right.as_string());
    return Value::Bool(op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0);
  }
  if (op == "+" && left.is_list() && right.is_list()) {
    std::vector<Value> items = left.as_list();
    items.insert(items.end(), right.as_list().begin(), right.as_list().end());
    return Value::List(std::move(items));
  }
  if (op == "+" && (left.is_string() || right.is_string()) && !left.is_undefined() &&
      !right.is_undefined() && !left.is_none() && !right.is_none()) {
    std::string text = ConcatText(left);
    const std::string tail = ConcatText(right);
    budget_.CheckSize(text.size() + tail.size(), at);
    return Value::String(text + tail);
  }
  if (op == "*" && left.is_string() && right.kind() == Value::Kind::kInt) {
    const std::int64_t n = left.as_string().empty() ? 0 : std::max<std::int64_t>(0, right.as_int());
    // Checked before building: n is at most 2^30 here, so the product cannot overflow.
    if (n > 0) {
      budget_.CheckSize(
          left.as_string().size() * static_cast<std::size_t>(std::min<std::int64_t>(n, 1 << 30)),
          at);
    }
    std::string text;
    for (std::int64_t i = 0; i < n; ++i) text += left.as_string();
    return Value::String(std::move(text));
  }
  Throw(at, absl::StrCat("'", op, "' between ", left.TypeName(), " and ", right.TypeName()));
}

}  // namespace
}  // namespace internal

absl::StatusOr<Template> Template::Parse(std::string_view source) {
  absl::StatusOr<std::vector<internal::Token>> tokens = internal::Tokenize(source);
  if (!tokens.ok()) return tokens.status();
  absl::StatusOr<internal::Body> body = internal::Parse(*tokens);
  if (!body.ok()) return body.status();
  return Template(std::make_shared<const Body>(*std::move(body)));
}

absl::StatusOr<std::string> Template::Render(const Mapping& variables,
                                             const RenderLimits& limits) const {
  try {
    internal::Interpreter interpreter(variables, limits);
    return interpreter.Run(*body_);
  } catch (const internal::RenderError& error) {
    return absl::InvalidArgumentError(absl::StrCat("line ", error.position.line, ", column ",
                                                   error.position.column, ": ", error.message));
  }
}

}  // namespace ghost::jinja
