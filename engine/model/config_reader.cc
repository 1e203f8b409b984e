#include "engine/model/config_reader.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/common/json.h"

namespace ghost {

using Json = nlohmann::json;

absl::Status ConfigReader::Missing(const char* key) const {
  return absl::InvalidArgumentError(
      absl::StrCat(file_name_, ": missing key \"", Key(key), "\" in config.json"));
}

absl::Status ConfigReader::Wrong(const char* key, const char* expected) const {
  return absl::InvalidArgumentError(absl::StrCat(file_name_, ": \"", Key(key), "\" must be ",
                                                 expected, ", got ", JsonSnippet(json_[key])));
}

absl::Status ConfigReader::Invalid(const std::string& message) const {
  return absl::InvalidArgumentError(absl::StrCat(file_name_, ": ", message));
}

absl::Status ConfigReader::Unsupported(const std::string& message) const {
  return absl::UnimplementedError(absl::StrCat(file_name_, ": ", message));
}

absl::Status ConfigReader::Dimension(const char* key, std::int64_t limit, int& out,
                                     std::optional<int> fallback) const {
  if (!Has(key)) {
    if (!fallback) return Missing(key);
    out = *fallback;
    return absl::OkStatus();
  }
  const Json& value = json_[key];
  if (!value.is_number_integer()) return Wrong(key, "an integer");
  const auto n = value.get<std::int64_t>();
  if (n <= 0 || n > limit) {
    return Invalid(absl::StrCat("\"", Key(key), "\" is ", n, ", must be in [1, ", limit, "]"));
  }
  out = static_cast<int>(n);
  return absl::OkStatus();
}

absl::Status ConfigReader::PositiveNumber(const char* key, double& out) const {
  if (!Has(key)) return absl::OkStatus();
  const Json& value = json_[key];
  if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() <= 0) {
    return Wrong(key, "a positive number");
  }
  out = value.get<double>();
  return absl::OkStatus();
}

absl::Status ConfigReader::String(const char* key, std::string& out) const {
  if (!Has(key)) return absl::OkStatus();
  if (!json_[key].is_string()) return Wrong(key, "a string");
  out = json_[key].get<std::string>();
  return absl::OkStatus();
}

absl::Status ConfigReader::Bool(const char* key, bool& out) const {
  if (!Has(key)) return absl::OkStatus();
  if (!json_[key].is_boolean()) return Wrong(key, "true or false");
  out = json_[key].get<bool>();
  return absl::OkStatus();
}

absl::Status ConfigReader::TokenIds(const char* key, std::vector<std::int32_t>& out) const {
  if (!Has(key)) return absl::OkStatus();
  const Json& value = json_[key];
  const auto valid = [](const Json& v) {
    return v.is_number_integer() && v.get<std::int64_t>() >= 0 &&
           v.get<std::int64_t>() < kMaxConfigDimension;
  };
  if (valid(value)) {
    out = {value.get<std::int32_t>()};
    return absl::OkStatus();
  }
  if (!value.is_array() || !std::all_of(value.begin(), value.end(), valid)) {
    return Wrong(key, "a token id or a list of token ids");
  }
  out.clear();
  for (const Json& id : value) out.push_back(id.get<std::int32_t>());
  return absl::OkStatus();
}

}  // namespace ghost
