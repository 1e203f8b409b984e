// The values a Jinja template computes with: undefined, none, booleans, integers, floats, strings,
// lists, mappings (insertion-ordered, as JSON objects and Python dicts are), namespaces and
// callables. Lists, mappings and namespaces are shared by reference, as in Python; only
// namespaces are ever changed after they are built ({% set ns.x = ... %}).
#ifndef GHOST_ENGINE_JINJA_VALUE_H_
#define GHOST_ENGINE_JINJA_VALUE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json_fwd.hpp"

namespace ghost::jinja {

class Mapping;
class Value;
struct CallArguments;

// A callable: a macro, `caller`, or a global such as range. Errors are thrown as RenderError
// (interpreter.h) by the interpreter that calls it.
using Function = std::function<Value(CallArguments&)>;

class Value {
 public:
  enum class Kind {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,
    kMapping,
    kNamespace,
    kFunction
  };

  Value() = default;  // undefined
  static Value None();
  static Value Bool(bool b);
  static Value Int(std::int64_t i);
  static Value Float(double d);
  static Value String(std::string s);
  static Value List(std::vector<Value> items);
  static Value Map(Mapping mapping);
  static Value Namespace(Mapping mapping);
  static Value Callable(Function function);
  // JSON to values, object members in document order (as JSON.parse and Python keep them);
  // numbers with no fraction become integers (as JavaScript, the reference, sees them).
  static Value FromJson(const nlohmann::ordered_json& json);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat; }
  bool is_list() const { return kind_ == Kind::kList; }
  // Mappings and namespaces both hold attributes.
  bool has_attributes() const { return kind_ == Kind::kMapping || kind_ == Kind::kNamespace; }

  // Levels of lists and mappings: 0 for a scalar, 1 for a flat list. A namespace's counts its
  // members when it was made (later attribute sets cannot hold namespaces, so they cannot
  // build deep or cyclic values: Interpreter checks that).
  int depth() const { return depth_; }
  // True for a namespace and any list or mapping that holds one.
  bool holds_namespace() const { return holds_namespace_; }
  // What building this value cost (RenderLimits::max_work_bytes): a string's bytes, or a
  // list's or mapping's elements at sizeof(Value) bytes each.
  std::size_t work_bytes() const;

  bool as_bool() const { return bool_; }
  std::int64_t as_int() const { return int_; }
  double as_number() const { return kind_ == Kind::kInt ? static_cast<double>(int_) : float_; }
  const std::string& as_string() const { return *string_; }
  const std::vector<Value>& as_list() const { return *list_; }
  const Mapping& as_mapping() const { return *mapping_; }
  Mapping& mutable_namespace() const { return *mapping_; }
  const Function& as_function() const { return *function_; }

  // Python-style truth: empty strings, lists and mappings, zero, none and undefined are false.
  bool Truthy() const;
  // The text {{ value }} writes: undefined and none write nothing, booleans "true"/"false",
  // floats with at least one decimal ("1.0"), lists and mappings as JSON.
  std::string ToString() const;
  // JSON text as the tojson filter writes it (", " and ": " separators, or newlines and
  // `indent` spaces when indent > 0); undefined becomes null.
  std::string ToJson(int indent = 0) const;
  // Equality as == compares: numbers by value, strings by content, none with none; lists,
  // mappings and callables only with themselves.
  bool Equals(const Value& other) const;
  // "undefined", "string", ... for error messages.
  const char* TypeName() const;

 private:
  Kind kind_ = Kind::kUndefined;
  int depth_ = 0;
  bool holds_namespace_ = false;
  bool bool_ = false;
  std::int64_t int_ = 0;
  double float_ = 0;
  std::shared_ptr<const std::string> string_;
  std::shared_ptr<const std::vector<Value>> list_;
  std::shared_ptr<Mapping> mapping_;
  std::shared_ptr<const Function> function_;
};

// Insertion-ordered string-keyed map.
class Mapping {
 public:
  const Value* Find(absl::string_view key) const;
  // Replaces the value of an existing key in place (its position is kept).
  void Set(std::string key, Value value);
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }
  std::size_t size() const { return entries_.size(); }

 private:
  std::vector<std::pair<std::string, Value>> entries_;
  absl::flat_hash_map<std::string, std::size_t> index_;
};

// A call's arguments: positional, then keyword (name = value) in the order written.
struct CallArguments {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// Formats a double as JavaScript's Number.prototype.toString does (shortest round trip).
std::string FormatJsNumber(double d);

}  // namespace ghost::jinja

#endif  // GHOST_ENGINE_JINJA_VALUE_H_
