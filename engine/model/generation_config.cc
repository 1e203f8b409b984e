#include "engine/model/generation_config.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/common/json.h"

namespace ghost {
namespace {

using Json = nlohmann::json;

absl::Status WrongType(const std::string& file_name, const char* key, const char* expected,
                       const Json& value) {
  return absl::InvalidArgumentError(
      absl::StrCat(file_name, ": \"", key, "\" must be ", expected, ", got ", JsonSnippet(value)));
}

// The values a request may carry for the same field (runtime/request.cc's Validate): a default
// outside them would make every request that leaves the field unset fail with a message about a
// value its client never sent.
struct Allowed {
  const char* text;
  bool (*contains)(double);
};
constexpr Allowed kAnyBool{"true or false", nullptr};
constexpr Allowed kTemperature{"a finite number >= 0", [](double v) { return v >= 0; }};
constexpr Allowed kUnitOpen{"a number in (0, 1]", [](double v) { return v > 0 && v <= 1; }};
constexpr Allowed kUnitClosed{"a number in [0, 1]", [](double v) { return v >= 0 && v <= 1; }};
constexpr Allowed kPositive{"a finite number > 0", [](double v) { return v > 0; }};
constexpr Allowed kTopK{"an integer in [0, 2^31) (0 disables it)",
                        [](double v) { return v >= 0 && v <= 2147483647.0; }};
constexpr Allowed kMaxNewTokens{"an integer in [1, 2^31)",
                                [](double v) { return v >= 1 && v <= 2147483647.0; }};

template <typename T>
absl::Status Read(const Json& json, const std::string& file_name, const char* key,
                  const Allowed& allowed, std::optional<T>& out) {
  if (!json.contains(key) || json[key].is_null()) return absl::OkStatus();
  const Json& value = json[key];
  if constexpr (std::is_same_v<T, bool>) {
    if (!value.is_boolean()) return WrongType(file_name, key, allowed.text, value);
    out = value.get<bool>();
    return absl::OkStatus();
  } else {
    const bool typed = std::is_integral_v<T> ? value.is_number_integer() : value.is_number();
    if (!typed || !std::isfinite(value.get<double>()) || !allowed.contains(value.get<double>())) {
      return WrongType(file_name, key, allowed.text, value);
    }
    out = static_cast<T>(std::is_integral_v<T> ? value.get<std::int64_t>() : value.get<double>());
    return absl::OkStatus();
  }
}

}  // namespace

absl::StatusOr<GenerationConfig> ParseGenerationConfig(std::string_view json,
                                                       const std::string& file_name) {
  absl::StatusOr<Json> parsed = ParseJsonStrict(json, file_name);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(file_name, ": must be a JSON object"));
  }
  GenerationConfig config;
  GenerationDefaults& d = config.defaults;
  for (absl::Status status :
       {Read(*parsed, file_name, "temperature", kTemperature, d.temperature),
        Read(*parsed, file_name, "top_p", kUnitOpen, d.top_p),
        Read(*parsed, file_name, "min_p", kUnitClosed, d.min_p),
        Read(*parsed, file_name, "repetition_penalty", kPositive, d.repetition_penalty),
        Read(*parsed, file_name, "top_k", kTopK, d.top_k),
        Read(*parsed, file_name, "max_new_tokens", kMaxNewTokens, d.max_new_tokens),
        Read(*parsed, file_name, "do_sample", kAnyBool, d.do_sample)}) {
    if (!status.ok()) return status;
  }
  if (parsed->contains("eos_token_id") && !(*parsed)["eos_token_id"].is_null()) {
    const Json& eos = (*parsed)["eos_token_id"];
    const Json list = eos.is_array() ? eos : Json::array({eos});
    for (const Json& id : list) {
      if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
          id.get<std::int64_t>() > std::numeric_limits<std::int32_t>::max()) {
        return WrongType(file_name, "eos_token_id", "a token id or a list of token ids", eos);
      }
      config.eos_token_ids.push_back(id.get<std::int32_t>());
    }
  }
  return config;
}

}  // namespace ghost
