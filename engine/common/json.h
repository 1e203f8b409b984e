// Strict JSON parsing for model files: duplicate keys are errors (nlohmann silently keeps the
// last one, which would let two conflicting values hide in a header), and errors name the file.
#ifndef GHOST_ENGINE_COMMON_JSON_H_
#define GHOST_ENGINE_COMMON_JSON_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace ghost {

// INVALID_ARGUMENT "<file_name>: invalid JSON: ..." or "<file_name>: duplicate key \"k\"".
absl::StatusOr<nlohmann::json> ParseJsonStrict(std::string_view text, std::string_view file_name);

// Short rendering of a JSON value for error messages (truncated).
std::string JsonSnippet(const nlohmann::json& value);

}  // namespace ghost

#endif  // GHOST_ENGINE_COMMON_JSON_H_
