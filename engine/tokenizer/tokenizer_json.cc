#include "engine/tokenizer/tokenizer_json.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ghost::tokenizer {

bool JsonInteger(const Json& value, std::int64_t min, std::int64_t max, std::int64_t& out) {
  if (value.is_number_unsigned()) {
    const auto v = value.get<std::uint64_t>();
    if (max < 0 || v > static_cast<std::uint64_t>(max)) return false;
    out = static_cast<std::int64_t>(v);
    return out >= min;
  }
  if (!value.is_number_integer()) return false;
  out = value.get<std::int64_t>();
  return out >= min && out <= max;
}

std::int64_t TokenIdBound(const Json& tokenizer) {
  std::int64_t count = 0;
  if (tokenizer.is_object()) {
    const auto model = tokenizer.find("model");
    if (model != tokenizer.end() && model->is_object()) {
      const auto vocab = model->find("vocab");
      if (vocab != model->end()) count += static_cast<std::int64_t>(vocab->size());
    }
    const auto added = tokenizer.find("added_tokens");
    if (added != tokenizer.end()) count += static_cast<std::int64_t>(added->size());
  }
  return std::min<std::int64_t>(2 * count + 1024, INT32_MAX);
}

const Json* JsonReader::Find(std::string_view key) const {
  if (!value_->is_object()) return nullptr;
  const auto it = value_->find(key);
  return it == value_->end() ? nullptr : &*it;
}

std::string JsonReader::KeyPath(std::string_view key) const {
  return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", View(key));
}

bool JsonReader::Has(std::string_view key) const {
  const Json* field = Find(key);
  return field != nullptr && !field->is_null();
}

JsonReader JsonReader::Child(std::string_view key) const {
  return JsonReader(*Find(key), source_, KeyPath(key));
}

absl::StatusOr<std::string> JsonReader::String(std::string_view key) const {
  const Json* field = Find(key);
  if (field == nullptr || !field->is_string()) {
    return Error(absl::StrCat("\"", View(key), "\" must be a string"));
  }
  return field->get<std::string>();
}

absl::StatusOr<std::string> JsonReader::String(std::string_view key,
                                               std::string_view fallback) const {
  if (!Has(key)) return std::string(fallback);
  return String(key);
}

absl::StatusOr<bool> JsonReader::Bool(std::string_view key, bool fallback) const {
  if (!Has(key)) return fallback;
  const Json* field = Find(key);
  if (!field->is_boolean()) return Error(absl::StrCat("\"", View(key), "\" must be true or false"));
  return field->get<bool>();
}

absl::StatusOr<std::int64_t> JsonReader::Int(std::string_view key, std::int64_t min,
                                             std::int64_t max) const {
  const Json* field = Find(key);
  std::int64_t value = 0;
  if (field == nullptr || !JsonInteger(*field, min, max, value)) {
    return Error(absl::StrCat("\"", View(key), "\" must be an integer in [", min, ", ", max, "]"));
  }
  return value;
}

absl::StatusOr<std::int64_t> JsonReader::Int(std::string_view key, std::int64_t min,
                                             std::int64_t max, std::int64_t fallback) const {
  if (!Has(key)) return fallback;
  return Int(key, min, max);
}

absl::StatusOr<JsonReader> JsonReader::Object(std::string_view key) const {
  const Json* field = Find(key);
  if (field == nullptr || !field->is_object()) {
    return Error(absl::StrCat("\"", View(key), "\" must be an object"));
  }
  return JsonReader(*field, source_, KeyPath(key));
}

absl::StatusOr<std::vector<JsonReader>> JsonReader::Array(std::string_view key) const {
  const Json* field = Find(key);
  if (field == nullptr || !field->is_array()) {
    return Error(absl::StrCat("\"", View(key), "\" must be a list"));
  }
  std::vector<JsonReader> items;
  items.reserve(field->size());
  const std::string prefix = KeyPath(key);
  for (std::size_t i = 0; i < field->size(); ++i) {
    items.emplace_back((*field)[i], source_, absl::StrCat(prefix, "[", i, "]"));
  }
  return items;
}

absl::Status JsonReader::Error(std::string_view message) const {
  return absl::InvalidArgumentError(absl::StrCat(
      View(source_), ": ", path_.empty() ? "" : absl::StrCat(path_, ": "), View(message)));
}

absl::Status JsonReader::Unsupported(std::string_view what, std::string_view supported) const {
  return absl::UnimplementedError(absl::StrCat(
      View(source_), ": ", View(what), " not supported (supported: ", View(supported), ")"));
}

}  // namespace ghost::tokenizer
