// Strict JSON parsing for model files: duplicate keys are errors (nlohmann silently keeps the
// last one, which would let two conflicting values hide in a header), and errors name the file.
#ifndef GHOST_ENGINE_COMMON_JSON_H_
#define GHOST_ENGINE_COMMON_JSON_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace ghost {

// INVALID_ARGUMENT "<file_name>: invalid JSON at byte N" or "<file_name>: duplicate key \"k\"".
// Never quotes the text: a file that is not JSON may hold anything.
absl::StatusOr<nlohmann::json> ParseJsonStrict(std::string_view text, std::string_view file_name);

// A JSON value for error messages: a number, boolean or null as written (truncated); a string,
// array or object by kind and size only ("a string of 5 bytes"), never its contents.
std::string JsonSnippet(const nlohmann::json& value);

}  // namespace ghost

#endif  // GHOST_ENGINE_COMMON_JSON_H_
