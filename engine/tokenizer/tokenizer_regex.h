// Regular expressions for tokenizer.json patterns, on PCRE2 (UTF + Unicode properties, JIT when
// available). RE2 cannot run them: the GPT-2 family patterns use the lookahead \s+(?!\S).
#ifndef GHOST_ENGINE_TOKENIZER_TOKENIZER_REGEX_H_
#define GHOST_ENGINE_TOKENIZER_TOKENIZER_REGEX_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer_json.h"

namespace ghost::tokenizer {

class Regex {
 public:
  struct Match {
    std::size_t begin = 0;
    std::size_t end = 0;
  };

  // Compiles a pattern written for Oniguruma (what the Rust tokenizers use); \s and \S are
  // translated to Unicode White_Space, which is what Oniguruma means by them and PCRE2 does
  // not. With `literal`, `pattern` is matched as plain text. The error message says what PCRE2
  // rejected and where; callers add the file name.
  static absl::StatusOr<Regex> Compile(std::string_view pattern, bool literal);

  // Appends the non-empty, non-overlapping matches in `text` (valid UTF-8), left to right.
  // Returns false when PCRE2 gave up (its match limit bounds pathological patterns); `matches`
  // then holds those found before.
  [[nodiscard]] bool FindAll(std::string_view text, std::vector<Match>& matches) const;

 private:
  struct CodeDeleter {
    void operator()(void* code) const;
  };
  explicit Regex(void* code) : code_(code) {}

  std::unique_ptr<void, CodeDeleter> code_;  // pcre2_code_8, kept out of this header
};

// Reads a tokenizer.json pattern object at `key`: {"String": "..."} or {"Regex": "..."}.
absl::StatusOr<Regex> ReadPattern(const JsonReader& json, std::string_view key);

}  // namespace ghost::tokenizer

#endif  // GHOST_ENGINE_TOKENIZER_TOKENIZER_REGEX_H_
