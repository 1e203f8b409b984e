#include "engine/jinja/builtins.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/jinja/text.h"

namespace ghost::jinja::internal {

void Throw(Position at, std::string message) { throw RenderError{at, std::move(message)}; }

namespace {

// Positional argument i, else the keyword argument `name`, else `fallback` (a copy: the
// fallback is often a temporary).
Value Arg(const CallArguments& args, std::size_t i, const std::string& name,
          const Value& fallback = Value()) {
  for (const auto& [key, value] : args.keyword) {
    if (key == name) return value;
  }
  return i < args.positional.size() ? args.positional[i] : fallback;
}

std::string StringArg(const CallArguments& args, std::size_t i, const std::string& name,
                      const std::string& what, Position at) {
  const Value value = Arg(args, i, name);
  if (!value.is_string()) {
    Throw(at,
          absl::StrCat(what, ": argument '", name, "' must be a string, not ", value.TypeName()));
  }
  return value.as_string();
}

const std::string& RequireString(const Value& value, const std::string& what, Position at) {
  if (!value.is_string()) Throw(at, absl::StrCat(what, " needs a string, not ", value.TypeName()));
  return value.as_string();
}

const std::vector<Value>& RequireList(const Value& value, const std::string& what, Position at) {
  if (!value.is_list()) Throw(at, absl::StrCat(what, " needs a list, not ", value.TypeName()));
  return value.as_list();
}

std::vector<Value> Chars(const std::string& text) {
  std::vector<Value> chars;
  std::string one;
  for (const std::uint32_t c : DecodeUtf8(text)) {
    one.clear();
    AppendUtf8(c, one);
    chars.push_back(Value::String(one));
  }
  return chars;
}

// strip/lstrip/rstrip: `chars` (every code point in it), or Unicode whitespace when absent.
std::string Strip(const std::string& text, const Value& chars, bool left, bool right) {
  const std::vector<std::uint32_t> cps = DecodeUtf8(text);
  std::vector<std::uint32_t> set;
  if (chars.is_string()) set = DecodeUtf8(chars.as_string());
  auto strip = [&](std::uint32_t c) {
    return chars.is_string() ? std::find(set.begin(), set.end(), c) != set.end()
                             : IsUnicodeSpace(c);
  };
  std::size_t begin = 0;
  std::size_t end = cps.size();
  if (left) {
    while (begin < end && strip(cps[begin])) ++begin;
  }
  if (right) {
    while (end > begin && strip(cps[end - 1])) --end;
  }
  return EncodeUtf8(std::vector<std::uint32_t>(cps.begin() + begin, cps.begin() + end));
}

std::vector<Value> Split(const std::string& text, const Value& separator, std::int64_t max_split,
                         Position at) {
  std::vector<Value> parts;
  if (separator.is_undefined() || separator.is_none()) {
    // Runs of whitespace separate; leading and trailing whitespace yields nothing.
    std::size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && IsUnicodeSpace(static_cast<unsigned char>(text[i]))) ++i;
      if (i >= text.size()) break;
      if (max_split >= 0 && static_cast<std::int64_t>(parts.size()) == max_split) {
        parts.push_back(Value::String(text.substr(i)));
        return parts;
      }
      std::size_t j = i;
      while (j < text.size() && !IsUnicodeSpace(static_cast<unsigned char>(text[j]))) ++j;
      parts.push_back(Value::String(text.substr(i, j - i)));
      i = j;
    }
    return parts;
  }
  const std::string& sep = RequireString(separator, "split", at);
  if (sep.empty()) Throw(at, "split: empty separator");
  std::size_t start = 0;
  while (max_split < 0 || static_cast<std::int64_t>(parts.size()) < max_split) {
    const std::size_t found = text.find(sep, start);
    if (found == std::string::npos) break;
    parts.push_back(Value::String(text.substr(start, found - start)));
    start = found + sep.size();
  }
  parts.push_back(Value::String(text.substr(start)));
  return parts;
}

std::string Replace(const std::string& text, const std::string& from, const std::string& to,
                    std::int64_t count, Budget& budget, Position at) {
  std::string out;
  if (from.empty()) {
    // Python inserts `to` around every character.
    const std::vector<Value> chars = Chars(text);
    std::int64_t done = 0;
    for (const Value& c : chars) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      out += c.as_string();
      budget.CheckSize(out.size(), at);
    }
    if (count < 0 || done < count) out += to;
    return out;
  }
  std::size_t start = 0;
  std::int64_t done = 0;
  while (count < 0 || done < count) {
    const std::size_t found = text.find(from, start);
    if (found == std::string::npos) break;
    out.append(text, start, found - start);
    out += to;
    budget.CheckSize(out.size(), at);
    start = found + from.size();
    ++done;
  }
  out.append(text, start);
  return out;
}

bool StartsOrEndsWith(const std::string& text, const Value& affixes, bool starts, Position at) {
  auto match = [&](const Value& affix) {
    const std::string& a = RequireString(affix, starts ? "startswith" : "endswith", at);
    if (a.size() > text.size()) return false;
    return starts ? text.compare(0, a.size(), a) == 0
                  : text.compare(text.size() - a.size(), a.size(), a) == 0;
  };
  if (affixes.is_list()) {
    return std::any_of(affixes.as_list().begin(), affixes.as_list().end(), match);
  }
  return match(affixes);
}

std::int64_t IntArg(const CallArguments& args, std::size_t i, const std::string& name,
                    std::int64_t fallback) {
  const Value value = Arg(args, i, name);
  if (value.kind() == Value::Kind::kInt) return value.as_int();
  return fallback;
}

Value StringMethod(const Value& object, const std::string& name, Budget& budget, Position at) {
  const std::string text = object.as_string();
  auto method = [](auto f) { return Value::Callable(std::move(f)); };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const bool left = name != "rstrip";
    const bool right = name != "lstrip";
    return method([text, left, right](CallArguments& args) {
      return Value::String(Strip(text, Arg(args, 0, "chars"), left, right));
    });
  }
  if (name == "upper")
    return method([text](CallArguments&) { return Value::String(ToUpper(text)); });
  if (name == "lower")
    return method([text](CallArguments&) { return Value::String(ToLower(text)); });
  if (name == "title")
    return method([text](CallArguments&) { return Value::String(ToTitle(text)); });
  if (name == "capitalize") {
    return method([text](CallArguments&) { return Value::String(Capitalize(text)); });
  }
  if (name == "startswith" || name == "endswith") {
    const bool starts = name == "startswith";
    return method([text, starts, at](CallArguments& args) {
      return Value::Bool(StartsOrEndsWith(text, Arg(args, 0, "prefix"), starts, at));
    });
  }
  if (name == "split") {
    return method([text, at](CallArguments& args) {
      return Value::List(Split(text, Arg(args, 0, "sep"), IntArg(args, 1, "maxsplit", -1), at));
    });
  }
  if (name == "replace") {
    return method([text, at, &budget](CallArguments& args) {
      return Value::String(Replace(text, StringArg(args, 0, "old", "replace", at),
                                   StringArg(args, 1, "new", "replace", at),
                                   IntArg(args, 2, "count", -1), budget, at));
    });
  }
  if (name == "join") {
    return method([text, at, &budget](CallArguments& args) {
      std::string out;
      const Value iterable = Arg(args, 0, "iterable");
      const std::vector<Value>& items = RequireList(iterable, "join", at);
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += text;
        out += items[i].ToString();
        budget.CheckSize(out.size(), at);
      }
      return Value::String(std::move(out));
    });
  }
  if (name == "__chars__") return Value::List(Chars(text));
  return Value();
}

Value MappingMethod(const Value& object, const std::string& name) {
  if (name == "get") {
    return Value::Callable([object](CallArguments& args) {
      const Value key = Arg(args, 0, "key");
      const Value* found = key.is_string() ? object.as_mapping().Find(key.as_string()) : nullptr;
      return found != nullptr ? *found : Arg(args, 1, "default", Value::None());
    });
  }
  if (name == "items" || name == "keys" || name == "values") {
    const std::string which(name);
    return Value::Callable([object, which](CallArguments&) {
      std::vector<Value> out;
      for (const auto& [key, value] : object.as_mapping().entries()) {
        if (which == "items") out.push_back(Value::List({Value::String(key), value}));
        if (which == "keys") out.push_back(Value::String(key));
        if (which == "values") out.push_back(value);
      }
      return Value::List(std::move(out));
    });
  }
  return Value();
}

}  // namespace

Value GetAttribute(const Value& object, const std::string& name, Budget& budget, Position at) {
  if (object.has_attributes()) {
    if (const Value* member = object.as_mapping().Find(name)) return *member;
    return object.kind() == Value::Kind::kMapping ? MappingMethod(object, name) : Value();
  }
  if (object.is_string()) return StringMethod(object, name, budget, at);
  if (object.is_list() && name == "length") {
    return Value::Int(static_cast<std::int64_t>(object.as_list().size()));
  }
  return Value();
}

Value GetItem(const Value& object, const Value& index, Position at) {
  if (object.has_attributes()) {
    if (!index.is_string())
      Throw(at, absl::StrCat("a mapping key must be a string, not ", index.TypeName()));
    const Value* member = object.as_mapping().Find(index.as_string());
    return member != nullptr ? *member : Value();
  }
  if (object.is_list() || object.is_string()) {
    if (index.is_string() && object.is_list() && index.as_string() == "length") {
      return Value::Int(static_cast<std::int64_t>(object.as_list().size()));
    }
    if (index.kind() != Value::Kind::kInt) {
      Throw(at, absl::StrCat("an index must be an integer, not ", index.TypeName()));
    }
    const std::vector<Value> chars =
        object.is_string() ? Chars(object.as_string()) : std::vector<Value>();
    const std::vector<Value>& items = object.is_list() ? object.as_list() : chars;
    const auto size = static_cast<std::int64_t>(items.size());
    const std::int64_t i = index.as_int() < 0 ? index.as_int() + size : index.as_int();
    return i >= 0 && i < size ? items[static_cast<std::size_t>(i)] : Value();
  }
  return Value();
}

Value Slice(const Value& object, const Value& start, const Value& stop, const Value& step,
            Position at) {
  for (const Value* bound : {&start, &stop, &step}) {
    if (!bound->is_undefined() && !bound->is_none() && bound->kind() != Value::Kind::kInt) {
      Throw(at, absl::StrCat("a slice bound must be an integer, not ", bound->TypeName()));
    }
  }
  if (!object.is_list() && !object.is_string()) {
    Throw(at, absl::StrCat("cannot slice ", object.TypeName()));
  }
  const std::vector<Value> chars =
      object.is_string() ? Chars(object.as_string()) : std::vector<Value>();
  const std::vector<Value>& items = object.is_list() ? object.as_list() : chars;
  const auto n = static_cast<std::int64_t>(items.size());
  const std::int64_t s = step.kind() == Value::Kind::kInt ? step.as_int() : 1;
  if (s == 0) Throw(at, "a slice step cannot be zero");
  auto clamp = [&](const Value& bound, std::int64_t fallback) {
    if (bound.kind() != Value::Kind::kInt) return fallback;
    std::int64_t i = bound.as_int();
    if (i < 0) i += n;
    return s > 0 ? std::clamp<std::int64_t>(i, 0, n) : std::clamp<std::int64_t>(i, -1, n - 1);
  };
  const std::int64_t first = clamp(start, s > 0 ? 0 : n - 1);
  const std::int64_t last = clamp(stop, s > 0 ? n : -1);
  std::vector<Value> out;
  for (std::int64_t i = first; s > 0 ? i < last : i > last; i += s) {
    out.push_back(items[static_cast<std::size_t>(i)]);
  }
  if (object.is_list()) return Value::List(std::move(out));
  std::string text;
  for (const Value& c : out) text += c.as_string();
  return Value::String(std::move(text));
}

std::string ConcatText(const Value& value) {
  if (value.kind() == Value::Kind::kFloat) return FormatJsNumber(value.as_number());
  return value.ToString();
}

Value Global(const std::string& name, Budget& budget) {
  if (name == "true" || name == "True") return Value::Bool(true);
  if (name == "false" || name == "False") return Value::Bool(false);
  if (name == "none" || name == "None") return Value::None();
  if (name == "range") {
    return Value::Callable([&budget](CallArguments& args) {
      std::int64_t bounds[3] = {0, 0, 1};
      const std::size_t n = args.positional.size();
      if (n < 1 || n > 3) Throw(kCallSite, "range takes 1 to 3 integers");
      for (std::size_t i = 0; i < n; ++i) {
        if (args.positional[i].kind() != Value::Kind::kInt)
          Throw(kCallSite, "range takes integers");
        bounds[n == 1 ? 1 : i] = args.positional[i].as_int();
      }
      if (bounds[2] == 0) Throw(kCallSite, "range step cannot be zero");
      std::vector<Value> out;
      for (std::int64_t i = bounds[0]; bounds[2] > 0 ? i < bounds[1] : i > bounds[1];
           i += bounds[2]) {
        budget.Step(kCallSite);
        out.push_back(Value::Int(i));
      }
      return Value::List(std::move(out));
    });
  }
  if (name == "namespace" || name == "dict") {
    const bool is_namespace = name == "namespace";
    return Value::Callable([is_namespace](CallArguments& args) {
      Mapping mapping;
      for (const Value& positional : args.positional) {
        if (!positional.has_attributes())
          Throw(kCallSite, "namespace() takes a mapping or key=value");
        for (const auto& [key, value] : positional.as_mapping().entries()) mapping.Set(key, value);
      }
      for (const auto& [key, value] : args.keyword) mapping.Set(key, value);
      return is_namespace ? Value::Namespace(std::move(mapping)) : Value::Map(std::move(mapping));
    });
  }
  if (name == "raise_exception") {
    return Value::Callable([](CallArguments& args) -> Value {
      Throw(kCallSite, absl::StrCat("the template raised: ", Arg(args, 0, "message").ToString()));
    });
  }
  if (name == "strftime_now") {
    return Value::Callable([](CallArguments& args) {
      const Value format = Arg(args, 0, "format");
      if (!format.is_string()) Throw(kCallSite, "strftime_now takes a format string");
      const std::time_t now = std::time(nullptr);
      std::tm local{};
      localtime_r(&now, &local);
      char buffer[256];
      const std::size_t n =
          std::strftime(buffer, sizeof(buffer), format.as_string().c_str(), &local);
      return Value::String(std::string(buffer, n));
    });
  }
  return Value();
}

}  // namespace ghost::jinja::internal
