#include "engine/model/generation_config.h"

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

template <typename T>
absl::Status Read(const Json& json, const std::string& file_name, const char* key,
                  std::optional<T>& out) {
  if (!json.contains(key) || json[key].is_null()) return absl::OkStatus();
  const Json& value = json[key];
  if constexpr (std::is_same_v<T, bool>) {
    if (!value.is_boolean()) return WrongType(file_name, key, "true or false", value);
  } else if constexpr (std::is_integral_v<T>) {
    if (!value.is_number_integer()) return WrongType(file_name, key, "an integer", value);
  } else {
    if (!value.is_number()) return WrongType(file_name, key, "a number", value);
  }
  out = value.get<T>();
  return absl::OkStatus();
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
       {Read(*parsed, file_name, "temperature", d.temperature),
        Read(*parsed, file_name, "top_p", d.top_p), Read(*parsed, file_name, "min_p", d.min_p),
        Read(*parsed, file_name, "repetition_penalty", d.repetition_penalty),
        Read(*parsed, file_name, "top_k", d.top_k),
        Read(*parsed, file_name, "max_new_tokens", d.max_new_tokens),
        Read(*parsed, file_name, "do_sample", d.do_sample)}) {
    if (!status.ok()) return status;
  }
  if (parsed->contains("eos_token_id") && !(*parsed)["eos_token_id"].is_null()) {
    const Json& eos = (*parsed)["eos_token_id"];
    const Json list = eos.is_array() ? eos : Json::array({eos});
    for (const Json& id : list) {
      if (!id.is_number_integer() || id.get<std::int64_t>() < 0) {
        return WrongType(file_name, "eos_token_id", "a token id or a list of token ids", eos);
      }
      config.eos_token_ids.push_back(id.get<std::int32_t>());
    }
  }
  return config;
}

}  // namespace ghost
