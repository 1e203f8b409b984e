// Reading tokenizer.json without exceptions: typed field access whose errors name the file and
// the path to the field ("x/tokenizer.json: pre_tokenizer.pretokenizers[0].behavior: ...").
// nlohmann's own accessors throw (or assert) on a missing key or a wrong type, which a malformed
// file must never be able to trigger.
#ifndef GHOST_ENGINE_TOKENIZER_TOKENIZER_JSON_H_
#define GHOST_ENGINE_TOKENIZER_TOKENIZER_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace ghost::tokenizer {

using Json = nlohmann::json;

// absl::StrCat takes absl::string_view, which this abseil build does not alias to
// std::string_view.
inline absl::string_view View(std::string_view text) { return {text.data(), text.size()}; }

// Sequences nest (a Sequence of Sequences ...); deeper than this is rejected, which bounds the
// recursion of the parsers.
inline constexpr int kMaxNesting = 8;

// A JSON value together with the file and the path it was found at.
class JsonReader {
 public:
  JsonReader(const Json& value, std::string_view source, std::string path)
      : value_(&value), source_(source), path_(std::move(path)) {}

  const Json& value() const { return *value_; }
  const std::string& path() const { return path_; }
  std::string_view source() const { return source_; }

  // True when the key is present and not null.
  bool Has(std::string_view key) const;

  absl::StatusOr<std::string> String(std::string_view key) const;  // required
  absl::StatusOr<std::string> String(std::string_view key, std::string_view fallback) const;
  absl::StatusOr<bool> Bool(std::string_view key, bool fallback) const;
  // An integer in [min, max]; required, or `fallback` when absent or null.
  absl::StatusOr<std::int64_t> Int(std::string_view key, std::int64_t min, std::int64_t max) const;
  absl::StatusOr<std::int64_t> Int(std::string_view key, std::int64_t min, std::int64_t max,
                                   std::int64_t fallback) const;
  absl::StatusOr<JsonReader> Object(std::string_view key) const;              // required object
  absl::StatusOr<std::vector<JsonReader>> Array(std::string_view key) const;  // required list
  JsonReader Child(std::string_view key) const;                               // only after Has(key)

  // INVALID_ARGUMENT "<source>: <path>: <message>".
  absl::Status Error(std::string_view message) const;
  // UNIMPLEMENTED "<source>: <what> not supported (supported: <supported>)".
  absl::Status Unsupported(std::string_view what, std::string_view supported) const;

 private:
  const Json* Find(std::string_view key) const;  // nullptr when absent or when not an object
  std::string KeyPath(std::string_view key) const;

  const Json* value_;
  std::string_view source_;
  std::string path_;
};

// Token ids must lie below this bound, twice the number of tokens the file lists (plus slack):
// tables indexed by id then stay proportional to the file, whatever ids it claims.
std::int64_t TokenIdBound(const Json& tokenizer);

// The integer value of `value` when it is an integer in [min, max].
bool JsonInteger(const Json& value, std::int64_t min, std::int64_t max, std::int64_t& out);

}  // namespace ghost::tokenizer

#endif  // GHOST_ENGINE_TOKENIZER_TOKENIZER_JSON_H_
