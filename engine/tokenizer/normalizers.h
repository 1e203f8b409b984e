// tokenizer.json "normalizer": rewrites each piece of text between added tokens before it is
// pre-tokenized. Supported: NFC, NFD, NFKC, NFKD, Prepend, Replace and Sequence of these.
#ifndef GHOST_ENGINE_TOKENIZER_NORMALIZERS_H_
#define GHOST_ENGINE_TOKENIZER_NORMALIZERS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer_json.h"
#include "engine/tokenizer/tokenizer_regex.h"
#include "engine/tokenizer/tokenizer_unicode.h"

namespace ghost::tokenizer {

class Normalizer {
 public:
  // `json` is the "normalizer" object (not null).
  static absl::StatusOr<std::unique_ptr<Normalizer>> FromJson(const JsonReader& json);

  // `text` is valid UTF-8, and so is the result.
  std::string Normalize(std::string_view text) const;

 private:
  enum class Kind { kUnicode, kPrepend, kReplace };
  struct Step {
    Kind kind = Kind::kUnicode;
    NormalForm form = NormalForm::kNfc;
    std::string text;                      // kPrepend: the prefix; kReplace: the replacement
    std::unique_ptr<const Regex> pattern;  // kReplace
  };

  absl::Status Add(const JsonReader& json, int depth);

  std::vector<Step> steps_;  // a Sequence, flattened
};

}  // namespace ghost::tokenizer

#endif  // GHOST_ENGINE_TOKENIZER_NORMALIZERS_H_
