// Filters ({{ x | name(args) }}) and tests ({% if x is name %}).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/jinja/builtins.h"
#include "engine/jinja/text.h"

namespace ghost::jinja::internal {
namespace {

const Value& Arg(const CallArguments& args, std::size_t i, const std::string& name) {
  static const Value kUndefined;
  for (const auto& [key, value] : args.keyword) {
    if (key == name) return value;
  }
  return i < args.positional.size() ? args.positional[i] : kUndefined;
}

// The attribute path "a.b.0" of an item, as map(attribute=), selectattr and sort(attribute=)
// read it.
Value AttributePath(const Value& item, const std::string& path, Budget& budget, Position at) {
  Value current = item;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t dot = std::min(path.find('.', start), path.size());
    const std::string part = path.substr(start, dot - start);
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    current = numeric && current.is_list()
                  ? GetItem(current, Value::Int(std::strtoll(part.c_str(), nullptr, 10)), at)
                  : GetAttribute(current, part, budget, at);
    start = dot + 1;
  }
  return current;
}

std::vector<Value> Items(const Value& operand, const std::string& filter, Position at) {
  if (operand.is_list()) return operand.as_list();
  if (operand.is_string()) {
    std::vector<Value> chars;
    for (const std::uint32_t c : DecodeUtf8(operand.as_string())) {
      std::string one;
      AppendUtf8(c, one);
      chars.push_back(Value::String(std::move(one)));
    }
    return chars;
  }
  if (operand.has_attributes()) {
    std::vector<Value> keys;
    for (const auto& entry : operand.as_mapping().entries())
      keys.push_back(Value::String(entry.first));
    return keys;
  }
  Throw(at, absl::StrCat("the '", filter, "' filter needs a list, not ", operand.TypeName()));
}

// Ordering for sort and dictsort: numbers by value, strings bytewise (case-folded unless asked).
bool Less(const Value& a, const Value& b, bool case_sensitive, Position at) {
  if (a.is_number() && b.is_number()) return a.as_number() < b.as_number();
  if (a.is_string() && b.is_string()) {
    return case_sensitive ? a.as_string() < b.as_string()
                          : ToLower(a.as_string()) < ToLower(b.as_string());
  }
  if (a.kind() == Value::Kind::kBool && b.kind() == Value::Kind::kBool) {
    return a.as_bool() < b.as_bool();
  }
  Throw(at, absl::StrCat("cannot order ", a.TypeName(), " and ", b.TypeName()));
}

// select/reject/selectattr/rejectattr: args[first_test_arg] names the test, the rest are its
// arguments; without a test, truthiness.
Value Select(const Value& operand, CallArguments& args, bool by_attribute, bool keep,
             const std::string& filter, Budget& budget, Position at) {
  std::size_t next = 0;
  std::string attribute;
  if (by_attribute) {
    const Value& name = Arg(args, next++, "attribute");
    if (!name.is_string()) Throw(at, absl::StrCat(filter, " needs an attribute name"));
    attribute = name.as_string();
  }
  std::string test;
  if (next < args.positional.size()) {
    if (!args.positional[next].is_string()) Throw(at, absl::StrCat(filter, " needs a test name"));
    test = args.positional[next++].as_string();
  }
  CallArguments test_args;
  for (std::size_t i = next; i < args.positional.size(); ++i) {
    test_args.positional.push_back(args.positional[i]);
  }
  std::vector<Value> out;
  for (const Value& item : Items(operand, filter, at)) {
    budget.Step(at);
    const Value subject = by_attribute ? AttributePath(item, attribute, budget, at) : item;
    const bool passed = test.empty() ? subject.Truthy() : ApplyTest(test, subject, test_args, at);
    if (passed == keep) out.push_back(item);
  }
  return Value::List(std::move(out));
}

std::string Indent(const std::string& text, const Value& width, bool first, bool blank) {
  const std::string pad =
      width.is_string() ? width.as_string()
      : width.kind() == Value::Kind::kInt
          ? std::string(static_cast<std::size_t>(std::clamp<std::int64_t>(width.as_int(), 0, 256)),
                        ' ')
          : std::string(4, ' ');
  std::string out;
  std::size_t start = 0;
  bool first_line = true;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string line = text.substr(start, end - start);
    const bool indent = first_line ? first : (blank || !line.empty());
    if (indent) out += pad;
    out += line;
    if (end < text.size()) out += '\n';
    start = end + 1;
    first_line = false;
  }
  return out;
}

std::string HtmlEscape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

Value ApplyFilter(const std::string& name, const Value& operand, CallArguments& args,
                  Budget& budget, Position at) {
  auto string_operand = [&]() -> const std::string& {
    if (!operand.is_string()) {
      Throw(at, absl::StrCat("the '", name, "' filter needs a string, not ", operand.TypeName()));
    }
    return operand.as_string();
  };
  auto string_method = [&](const std::string& method) {
    Value bound = GetAttribute(Value::String(string_operand()), method, budget, at);
    return bound.as_function()(args);
  };
  if (name == "trim") return string_method("strip");
  if (name == "upper" || name == "lower" || name == "title" || name == "capitalize" ||
      name == "replace") {
    return string_method(name);
  }
  if (name == "safe") return operand;
  if (name == "string") return Value::String(operand.ToString());
  if (name == "e" || name == "escape") return Value::String(HtmlEscape(operand.ToString()));
  if (name == "length" || name == "count") {
    if (operand.is_string()) {
      return Value::Int(static_cast<std::int64_t>(DecodeUtf8(operand.as_string()).size()));
    }
    if (operand.is_list()) return Value::Int(static_cast<std::int64_t>(operand.as_list().size()));
    if (operand.has_attributes()) {
      return Value::Int(static_cast<std::int64_t>(operand.as_mapping().size()));
    }
    Throw(at, absl::StrCat("the 'length' filter needs a string, list or mapping, not ",
                           operand.TypeName()));
  }
  if (name == "default" || name == "d") {
    const bool boolean = Arg(args, 1, "boolean").Truthy();
    const bool use_default = boolean ? !operand.Truthy() : operand.is_undefined();
    return use_default ? Arg(args, 0, "default_value") : operand;
  }
  if (name == "tojson") {
    const Value& indent = Arg(args, 0, "indent");
    const int spaces = indent.kind() == Value::Kind::kInt
                           ? static_cast<int>(std::clamp<std::int64_t>(indent.as_int(), 0, 64))
                           : 0;
    std::string json = operand.ToJson(spaces);
    budget.CheckSize(json.size(), at);
    return Value::String(std::move(json));
  }
  if (name == "items") {
    if (!operand.has_attributes()) {
      Throw(at, absl::StrCat("the 'items' filter needs a mapping, not ", operand.TypeName()));
    }
    std::vector<Value> out;
    for (const auto& [key, value] : operand.as_mapping().entries()) {
      out.push_back(Value::List({Value::String(key), value}));
    }
    return Value::List(std::move(out));
  }
  if (name == "list") return Value::List(Items(operand, name, at));
  if (name == "first" || name == "last") {
    const std::vector<Value> items = Items(operand, name, at);
    if (items.empty()) return Value();
    return name == "first" ? items.front() : items.back();
  }
  if (name == "reverse") {
    if (operand.is_string()) {
      std::vector<std::uint32_t> cps = DecodeUtf8(operand.as_string());
      std::reverse(cps.begin(), cps.end());
      return Value::String(EncodeUtf8(cps));
    }
    std::vector<Value> items = Items(operand, name, at);
    std::reverse(items.begin(), items.end());
    return Value::List(std::move(items));
  }
  if (name == "join") {
    const Value& separator = Arg(args, 0, "d");
    const Value& attribute = Arg(args, 1, "attribute");
    std::string out;
    const std::vector<Value> items = Items(operand, name, at);
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i > 0 && separator.is_string()) out += separator.as_string();
      const Value item = attribute.is_string()
                             ? AttributePath(items[i], attribute.as_string(), budget, at)
                             : items[i];
      out += item.ToString();
      budget.CheckSize(out.size(), at);
    }
    return Value::String(std::move(out));
  }
  if (name == "map") {
    std::vector<Value> out;
    const Value& attribute = Arg(args, 99, "attribute");
    for (const Value& item : Items(operand, name, at)) {
      budget.Step(at);
      if (attribute.is_string()) {
        Value mapped = AttributePath(item, attribute.as_string(), budget, at);
        if (mapped.is_undefined()) mapped = Arg(args, 99, "default");
        out.push_back(std::move(mapped));
        continue;
      }
      if (args.positional.empty() || !args.positional[0].is_string()) {
        Throw(at, "the 'map' filter needs attribute= or a filter name");
      }
      CallArguments rest;
      rest.positional.assign(args.positional.begin() + 1, args.positional.end());
      rest.keyword = args.keyword;
      out.push_back(ApplyFilter(args.positional[0].as_string(), item, rest, budget, at));
    }
    return Value::List(std::move(out));
  }
  if (name == "select" || name == "reject") {
    return Select(operand, args, false, name == "select", name, budget, at);
  }
  if (name == "selectattr" || name == "rejectattr") {
    return Select(operand, args, true, name == "selectattr", name, budget, at);
  }
  if (name == "unique") {
    std::vector<Value> out;
    for (const Value& item : Items(operand, name, at)) {
      budget.Step(at);
      const bool seen = std::any_of(out.begin(), out.end(), [&](const Value& kept) {
        return kept.kind() == item.kind() && kept.Equals(item);
      });
      if (!seen) out.push_back(item);
    }
    return Value::List(std::move(out));
  }
  if (name == "sort" || name == "dictsort") {
    const bool dict = name == "dictsort";
    std::vector<Value> items;
    if (dict) {
      if (!operand.has_attributes()) Throw(at, "the 'dictsort' filter needs a mapping");
      for (const auto& [key, value] : operand.as_mapping().entries()) {
        items.push_back(Value::List({Value::String(key), value}));
      }
    } else {
      items = Items(operand, name, at);
    }
    const bool reverse = Arg(args, dict ? 2 : 0, "reverse").Truthy();
    const bool case_sensitive = Arg(args, dict ? 0 : 1, "case_sensitive").Truthy();
    const Value& attribute = Arg(args, 2, "attribute");
    const std::size_t key_index =
        dict && Arg(args, 1, "by").is_string() && Arg(args, 1, "by").as_string() == "value" ? 1 : 0;
    auto key = [&](const Value& item) {
      if (dict) return item.as_list()[key_index];
      return attribute.is_string() ? AttributePath(item, attribute.as_string(), budget, at) : item;
    };
    std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
      return reverse ? Less(key(b), key(a), case_sensitive, at)
                     : Less(key(a), key(b), case_sensitive, at);
    });
    return Value::List(std::move(items));
  }
  if (name == "int") {
    if (operand.kind() == Value::Kind::kInt) return operand;
    if (operand.kind() == Value::Kind::kFloat && std::isfinite(operand.as_number()) &&
        std::fabs(operand.as_number()) < 9.0e18) {
      return Value::Int(static_cast<std::int64_t>(operand.as_number()));
    }
    if (operand.kind() == Value::Kind::kBool) return Value::Int(operand.as_bool() ? 1 : 0);
    if (operand.is_string()) {
      char* end = nullptr;
      const std::int64_t value = std::strtoll(operand.as_string().c_str(), &end, 10);
      if (end != operand.as_string().c_str() && *end == '\0') return Value::Int(value);
    }
    const Value& fallback = Arg(args, 0, "default");
    return fallback.is_undefined() ? Value::Int(0) : fallback;
  }
  if (name == "float") {
    if (operand.is_number()) return Value::Float(operand.as_number());
    if (operand.kind() == Value::Kind::kBool) return Value::Float(operand.as_bool() ? 1 : 0);
    if (operand.is_string()) {
      char* end = nullptr;
      const double value = std::strtod(operand.as_string().c_str(), &end);
      if (end != operand.as_string().c_str() && *end == '\0') return Value::Float(value);
    }
    const Value& fallback = Arg(args, 0, "default");
    return fallback.is_undefined() ? Value::Float(0) : fallback;
  }
  if (name == "bool") return Value::Bool(operand.Truthy());
  if (name == "abs") {
    if (operand.kind() == Value::Kind::kInt && operand.as_int() != INT64_MIN) {
      return Value::Int(std::llabs(operand.as_int()));
    }
    if (operand.is_number()) return Value::Float(std::fabs(operand.as_number()));
    Throw(at, absl::StrCat("the 'abs' filter needs a number, not ", operand.TypeName()));
  }
  if (name == "round") {
    if (!operand.is_number()) {
      Throw(at, absl::StrCat("the 'round' filter needs a number, not ", operand.TypeName()));
    }
    const Value& precision = Arg(args, 0, "precision");
    const Value& method = Arg(args, 1, "method");
    const std::int64_t digits = precision.kind() == Value::Kind::kInt
                                    ? std::clamp<std::int64_t>(precision.as_int(), -20, 20)
                                    : 0;
    const double scale = std::pow(10.0, static_cast<double>(digits));
    const double x = operand.as_number() * scale;
    const std::string how = method.is_string() ? method.as_string() : "common";
    const double rounded = how == "floor"  ? std::floor(x)
                           : how == "ceil" ? std::ceil(x)
                                           : std::round(x);
    return Value::Float(rounded / scale);
  }
  if (name == "indent") {
    return Value::String(Indent(string_operand(), Arg(args, 0, "width"),
                                Arg(args, 1, "first").Truthy(), Arg(args, 2, "blank").Truthy()));
  }
  Throw(at, absl::StrCat("unknown filter '", name, "'"));
}

bool ApplyTest(const std::string& name, const Value& operand, CallArguments& args, Position at) {
  using K = Value::Kind;
  const K kind = operand.kind();
  if (name == "defined") return kind != K::kUndefined;
  if (name == "undefined") return kind == K::kUndefined;
  if (name == "none") return kind == K::kNone;
  if (name == "string") return kind == K::kString;
  if (name == "number") return operand.is_number();
  if (name == "integer") return kind == K::kInt;
  if (name == "float") return kind == K::kFloat;
  if (name == "boolean") return kind == K::kBool;
  if (name == "true") return kind == K::kBool && operand.as_bool();
  if (name == "false") return kind == K::kBool && !operand.as_bool();
  if (name == "mapping") return kind == K::kMapping;
  if (name == "iterable") return kind == K::kList || kind == K::kString || kind == K::kMapping;
  if (name == "sequence") return kind == K::kList || kind == K::kString || kind == K::kMapping;
  if (name == "callable") return kind == K::kFunction;
  if (name == "lower")
    return kind == K::kString && ToLower(operand.as_string()) == operand.as_string();
  if (name == "upper")
    return kind == K::kString && ToUpper(operand.as_string()) == operand.as_string();
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (kind != K::kInt) Throw(at, absl::StrCat("the '", name, "' test needs an integer"));
    if (name == "divisibleby") {
      const Value& divisor = Arg(args, 0, "num");
      if (divisor.kind() != K::kInt || divisor.as_int() == 0) {
        Throw(at, "the 'divisibleby' test needs a non-zero integer");
      }
      return divisor.as_int() == -1 || operand.as_int() % divisor.as_int() == 0;
    }
    return (operand.as_int() % 2 != 0) == (name == "odd");
  }
  const Value& other = Arg(args, 0, "other");
  if (name == "equalto" || name == "eq" || name == "==" || name == "sameas") {
    return operand.kind() == other.kind() && operand.Equals(other);
  }
  if (name == "ne" || name == "!=")
    return !(operand.kind() == other.kind() && operand.Equals(other));
  if (name == "lt" || name == "gt" || name == "le" || name == "ge" || name == "lessthan" ||
      name == "greaterthan") {
    if (!operand.is_number() || !other.is_number()) {
      Throw(at, absl::StrCat("the '", name, "' test needs numbers"));
    }
    const double a = operand.as_number();
    const double b = other.as_number();
    if (name == "lt" || name == "lessthan") return a < b;
    if (name == "gt" || name == "greaterthan") return a > b;
    return name == "le" ? a <= b : a >= b;
  }
  if (name == "in") {
    if (other.is_list()) {
      return std::any_of(other.as_list().begin(), other.as_list().end(), [&](const Value& item) {
        return item.kind() == operand.kind() && item.Equals(operand);
      });
    }
    if (other.is_string() && operand.is_string()) {
      return other.as_string().find(operand.as_string()) != std::string::npos;
    }
    if (other.has_attributes() && operand.is_string()) {
      return other.as_mapping().Find(operand.as_string()) != nullptr;
    }
    return false;
  }
  Throw(at, absl::StrCat("unknown test '", name, "'"));
}

}  // namespace ghost::jinja::internal
