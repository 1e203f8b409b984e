#include "engine/common/json.h"

#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ghost {

absl::StatusOr<nlohmann::json> ParseJsonStrict(std::string_view text, std::string_view file_name) {
  using Json = nlohmann::json;
  // One key set per open object, innermost last.
  std::vector<absl::flat_hash_set<std::string>> open_objects;
  std::string duplicate;
  auto callback = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!open_objects.empty() && parsed.is_string() &&
            !open_objects.back().insert(parsed.get_ref<const std::string&>()).second &&
            duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  Json result;
  // nlohmann reports errors by exception; it is caught here so none leaves the engine.
  try {
    result = Json::parse(text.begin(), text.end(), callback);
  } catch (const Json::parse_error& e) {
    // The position only: nlohmann's message quotes the bytes it last read, and those may be
    // anything (a file that is not JSON at all).
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(file_name), ": invalid JSON at byte ", e.byte));
  } catch (const Json::exception&) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(file_name), ": invalid JSON"));
  }
  if (!duplicate.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(file_name), ": duplicate key \"", duplicate, "\""));
  }
  return result;
}

std::string JsonSnippet(const nlohmann::json& value) {
  // Numbers, booleans and null as written; strings, arrays and objects by kind and size only.
  if (value.is_string()) {
    return absl::StrCat("a string of ", value.get_ref<const std::string&>().size(), " bytes");
  }
  if (value.is_array()) return absl::StrCat("an array of ", value.size(), " elements");
  if (value.is_object()) return absl::StrCat("an object of ", value.size(), " keys");
  constexpr size_t kMaxChars = 60;
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMaxChars) text = text.substr(0, kMaxChars) + "...";
  return text;
}

}  // namespace ghost
