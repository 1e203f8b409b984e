#include "engine/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace ghost::jinja {
namespace {

// JSON.stringify's escaping: quotes, backslashes and control characters; everything else as is.
void AppendJsonString(std::string_view s, std::string& out) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppend(&out, "\\u00", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void AppendJson(const Value& value, int indent, int depth, std::string& out) {
  const std::string pad = indent > 0 ? "\n" + std::string(indent * depth, ' ') : "";
  const std::string child_pad = indent > 0 ? "\n" + std::string(indent * (depth + 1), ' ') : "";
  const char* item_separator = indent > 0 ? "," : ", ";
  switch (value.kind()) {
    case Value::Kind::kString:
      AppendJsonString(value.as_string(), out);
      return;
    case Value::Kind::kInt:
      absl::StrAppend(&out, value.as_int());
      return;
    case Value::Kind::kFloat:
      out += std::isfinite(value.as_number()) ? FormatJsNumber(value.as_number()) : "null";
      return;
    case Value::Kind::kBool:
      out += value.as_bool() ? "true" : "false";
      return;
    case Value::Kind::kList: {
      const std::vector<Value>& items = value.as_list();
      out += '[';
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += item_separator;
        out += child_pad;
        AppendJson(items[i], indent, depth + 1, out);
      }
      if (!items.empty()) out += pad;
      out += ']';
      return;
    }
    case Value::Kind::kMapping:
    case Value::Kind::kNamespace: {
      const auto& entries = value.as_mapping().entries();
      out += '{';
      for (std::size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) out += item_separator;
        out += child_pad;
        AppendJsonString(entries[i].first, out);
        out += ": ";
        AppendJson(entries[i].second, indent, depth + 1, out);
      }
      if (!entries.empty()) out += pad;
      out += '}';
      return;
    }
    default:  // undefined, none, callables
      out += "null";
  }
}

}  // namespace

std::string FormatJsNumber(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return "0";
  // The shortest digits that round-trip, then JavaScript's choice of notation: positional for
  // 1e-7 <= |d| < 1e21, else d.ddde+x.
  char buffer[64];
  const auto result =
      std::to_chars(buffer, buffer + sizeof(buffer), d, std::chars_format::scientific);
  std::string_view text(buffer, result.ptr - buffer);
  std::string sign;
  if (text.front() == '-') {
    sign = "-";
    text.remove_prefix(1);
  }
  const std::size_t e = text.find('e');
  std::string digits(text.substr(0, e));
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exponent = std::atoi(std::string(text.substr(e + 1)).c_str());
  const int n = static_cast<int>(digits.size());
  if (exponent >= 21 || exponent < -7) {
    std::string out = sign + digits.substr(0, 1);
    if (n > 1) out += "." + digits.substr(1);
    return absl::StrCat(out, "e", exponent > 0 ? "+" : "-", std::abs(exponent));
  }
  if (exponent >= n - 1) return sign + digits + std::string(exponent - (n - 1), '0');
  if (exponent >= 0)
    return sign + digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
  return sign + "0." + std::string(-exponent - 1, '0') + digits;
}

const Value* Mapping::Find(absl::string_view key) const {
  const auto it = index_.find(key);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

void Mapping::Set(std::string key, Value value) {
  const auto [it, inserted] = index_.try_emplace(key, entries_.size());
  if (inserted) {
    entries_.emplace_back(std::move(key), std::move(value));
  } else {
    entries_[it->second].second = std::move(value);
  }
}

Value Value::None() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}

Value Value::Bool(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.bool_ = b;
  return v;
}

Value Value::Int(std::int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.int_ = i;
  return v;
}

Value Value::Float(double d) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.float_ = d;
  return v;
}

Value Value::String(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.string_ = std::make_shared<const std::string>(std::move(s));
  return v;
}

Value Value::List(std::vector<Value> items) {
  Value v;
  v.kind_ = Kind::kList;
  for (const Value& item : items) {
    v.depth_ = std::max(v.depth_, item.depth_);
    v.holds_namespace_ = v.holds_namespace_ || item.holds_namespace_;
  }
  ++v.depth_;
  v.list_ = std::make_shared<const std::vector<Value>>(std::move(items));
  return v;
}

Value Value::Map(Mapping mapping) {
  Value v;
  v.kind_ = Kind::kMapping;
  for (const auto& entry : mapping.entries()) {
    v.depth_ = std::max(v.depth_, entry.second.depth_);
    v.holds_namespace_ = v.holds_namespace_ || entry.second.holds_namespace_;
  }
  ++v.depth_;
  v.mapping_ = std::make_shared<Mapping>(std::move(mapping));
  return v;
}

Value Value::Namespace(Mapping mapping) {
  Value v = Map(std::move(mapping));
  v.kind_ = Kind::kNamespace;
  v.holds_namespace_ = true;
  return v;
}

Value Value::Callable(Function function) {
  Value v;
  v.kind_ = Kind::kFunction;
  v.function_ = std::make_shared<const Function>(std::move(function));
  return v;
}

Value Value::FromJson(const nlohmann::ordered_json& json) {
  switch (json.type()) {
    case nlohmann::ordered_json::value_t::null:
      return None();
    case nlohmann::ordered_json::value_t::boolean:
      return Bool(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Int(json.get<std::int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const std::uint64_t u = json.get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(INT64_MAX)) return Int(static_cast<std::int64_t>(u));
      return Float(static_cast<double>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: {
      const double d = json.get<double>();
      if (std::trunc(d) == d && std::fabs(d) < 9.0e15) return Int(static_cast<std::int64_t>(d));
      return Float(d);
    }
    case nlohmann::ordered_json::value_t::string:
      return String(json.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const nlohmann::ordered_json& item : json) items.push_back(FromJson(item));
      return List(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Mapping mapping;
      for (const auto& [key, item] : json.items()) mapping.Set(key, FromJson(item));
      return Map(std::move(mapping));
    }
    default:
      return Value();
  }
}

std::size_t Value::work_bytes() const {
  switch (kind_) {
    case Kind::kString:
      return string_->size();
    case Kind::kList:
      return list_->size() * 16;
    case Kind::kMapping:
    case Kind::kNamespace:
      return mapping_->size() * 16;
    default:
      return 0;
  }
}

bool Value::Truthy() const {
  switch (kind_) {
    case Kind::kBool:
      return bool_;
    case Kind::kInt:
      return int_ != 0;
    case Kind::kFloat:
      return float_ != 0;
    case Kind::kString:
      return !string_->empty();
    case Kind::kList:
      return !list_->empty();
    case Kind::kMapping:
      return mapping_->size() > 0;
    case Kind::kNamespace:
    case Kind::kFunction:
      return true;
    default:
      return false;
  }
}

std::string Value::ToString() const {
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone:
      return "";
    case Kind::kBool:
      return bool_ ? "true" : "false";
    case Kind::kInt:
      return absl::StrCat(int_);
    case Kind::kFloat:
      if (float_ == 0 && std::signbit(float_)) return "-0.0";
      if (std::isfinite(float_) && std::trunc(float_) == float_ && std::fabs(float_) < 1e21) {
        return FormatJsNumber(float_) + ".0";
      }
      return FormatJsNumber(float_);
    case Kind::kString:
      return *string_;
    case Kind::kFunction:
      return "[function]";
    default:
      return ToJson();
  }
}

std::string Value::ToJson(int indent) const {
  std::string out;
  AppendJson(*this, indent, 0, out);
  return out;
}

bool Value::Equals(const Value& other) const {
  if (is_number() && other.is_number()) return as_number() == other.as_number();
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone:
      return true;
    case Kind::kBool:
      return bool_ == other.bool_;
    case Kind::kString:
      return *string_ == *other.string_;
    case Kind::kList:
      return list_ == other.list_;
    case Kind::kMapping:
    case Kind::kNamespace:
      return mapping_ == other.mapping_;
    case Kind::kFunction:
      return function_ == other.function_;
    default:
      return false;
  }
}

const char* Value::TypeName() const {
  switch (kind_) {
    case Kind::kUndefined:
      return "undefined";
    case Kind::kNone:
      return "none";
    case Kind::kBool:
      return "boolean";
    case Kind::kInt:
      return "integer";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "string";
    case Kind::kList:
      return "list";
    case Kind::kMapping:
      return "mapping";
    case Kind::kNamespace:
      return "namespace";
    case Kind::kFunction:
      return "callable";
  }
  return "value";
}

}  // namespace ghost::jinja
