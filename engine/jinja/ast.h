// The parsed form of a template: a tree of statements and expressions. Internal to engine/jinja
// (parser.cc builds it, interpreter.cc walks it). The parser bounds the tree's depth
// (kMaxNestingDepth), so recursive walks over it cannot exhaust the stack.
#ifndef GHOST_ENGINE_JINJA_AST_H_
#define GHOST_ENGINE_JINJA_AST_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/jinja/value.h"

namespace ghost::jinja::internal {

inline constexpr int kMaxNestingDepth = 200;

// Where a construct starts in the template source, for error messages.
struct Position {
  int line = 1;
  int column = 1;
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,     // value
    kName,        // name
    kList,        // items
    kTuple,       // items
    kDict,        // items: key, value, key, value, ...
    kAttribute,   // object = items[0], name
    kSubscript,   // object = items[0], index = items[1]
    kSlice,       // object = items[0], start/stop/step = items[1..3] (null when omitted)
    kCall,        // callee = items[0], arguments: positional items[1..], keyword in `keywords`
    kFilter,      // operand = items[0] (null inside {% filter %}), name, arguments as kCall
    kTest,        // operand = items[0], name, arguments as kCall; negated
    kUnary,       // op ("not", "-", "+"), operand = items[0]
    kBinary,      // op, items[0] op items[1]
    kConditional  // items[0] if items[1] else items[2] (items[2] null: undefined)
  };
  Kind kind;
  Position position;
  Value value;
  std::string name;  // name, attribute, filter, test or operator
  std::vector<ExprPtr> items;
  std::vector<std::pair<std::string, ExprPtr>> keywords;
  bool negated = false;
  int depth = 1;  // height of this subtree
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct MacroParameter {
  std::string name;
  ExprPtr default_value;  // null: none given
};

struct Stmt {
  enum class Kind {
    kText,         // text
    kOutput,       // {{ expr }}
    kIf,           // branches: (condition, body)...; else_body
    kFor,          // targets in expr [if condition]: body; else_body
    kSet,          // targets (names) or (object, attribute) = expr, or a block body
    kMacro,        // name(parameters): body
    kCall,         // {% call(caller_parameters) expr %}body{% endcall %}
    kFilterBlock,  // {% filter expr %}body{% endfilter %}
    kBreak,
    kContinue
  };
  Kind kind;
  Position position;
  std::string text;
  ExprPtr expr;       // output, for iterable, set value, call, filter
  ExprPtr condition;  // for ... if condition
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  std::vector<std::string> targets;  // for / set names
  ExprPtr set_object;                // set ns.attribute: the namespace expression
  std::string set_attribute;
  std::string name;  // macro name
  std::vector<MacroParameter> parameters;
};

}  // namespace ghost::jinja::internal

#endif  // GHOST_ENGINE_JINJA_AST_H_
