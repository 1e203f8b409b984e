// Typed reads of config.json keys with errors that name the file and the key. Shared by the
// common config parser (config.cc), the rotary embedding keys (rope_config.cc) and the
// architecture files (arch_*.cc), which read their own family's keys.
#ifndef GHOST_ENGINE_MODEL_CONFIG_READER_H_
#define GHOST_ENGINE_MODEL_CONFIG_READER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace ghost {

class ConfigReader {
 public:
  // `prefix` names a nested object in messages ("rope_scaling." for its keys).
  ConfigReader(const nlohmann::json& json, const std::string& file_name, std::string prefix = "")
      : json_(json), file_name_(file_name), prefix_(std::move(prefix)) {}

  const nlohmann::json& json() const { return json_; }
  const std::string& file_name() const { return file_name_; }

  // Present and not null.
  bool Has(const char* key) const { return json_.contains(key) && !json_[key].is_null(); }

  absl::Status Missing(const char* key) const;
  absl::Status Wrong(const char* key, const char* expected) const;
  // INVALID_ARGUMENT "<file>: <message>".
  absl::Status Invalid(const std::string& message) const;
  // UNIMPLEMENTED "<file>: <message>".
  absl::Status Unsupported(const std::string& message) const;

  // A required (or, with `fallback`, optional) integer in [1, limit].
  absl::Status Dimension(const char* key, std::int64_t limit, int& out,
                         std::optional<int> fallback = std::nullopt) const;
  // Optional keys below keep `out` when absent or null.
  absl::Status PositiveNumber(const char* key, double& out) const;
  absl::Status String(const char* key, std::string& out) const;
  absl::Status Bool(const char* key, bool& out) const;
  // A token id or a list of them.
  absl::Status TokenIds(const char* key, std::vector<std::int32_t>& out) const;

 private:
  std::string Key(const char* key) const { return prefix_ + key; }

  const nlohmann::json& json_;
  const std::string& file_name_;
  const std::string prefix_;
};

// Dimensions above this are certainly a corrupt file, and would overflow size arithmetic.
inline constexpr std::int64_t kMaxConfigDimension = std::int64_t{1} << 20;

}  // namespace ghost

#endif  // GHOST_ENGINE_MODEL_CONFIG_READER_H_
