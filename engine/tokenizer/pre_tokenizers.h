// tokenizer.json "pre_tokenizer": splits normalized text into the words BPE runs on.
// Supported: Split (String or Regex pattern, any behavior but Contiguous, invert), ByteLevel
// (add_prefix_space, use_regex; must come last), Metaspace (replacement, prepend_scheme or the
// older add_prefix_space, split) and Sequence of these.
#ifndef GHOST_ENGINE_TOKENIZER_PRE_TOKENIZERS_H_
#define GHOST_ENGINE_TOKENIZER_PRE_TOKENIZERS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer_json.h"
#include "engine/tokenizer/tokenizer_regex.h"

namespace ghost::tokenizer {

class PreTokenizer {
 public:
  // `json` is the "pre_tokenizer" object (not null).
  static absl::StatusOr<std::unique_ptr<PreTokenizer>> FromJson(const JsonReader& json);

  // Appends the words of `text` (valid UTF-8) to `words`. `at_input_start` tells whether `text`
  // begins the whole input (Metaspace's prepend_scheme "first" depends on it). Words come out as
  // the bytes they stand for: a ByteLevel step does not spell them in the byte alphabet, the BPE
  // model's vocabulary is converted instead.
  void Split(std::string_view text, bool at_input_start, std::vector<std::string>& words) const;

  // Whether a ByteLevel step ends the sequence, making the words byte strings rather than text.
  bool byte_level() const { return !steps_.empty() && steps_.back().kind == Kind::kByteLevel; }

 private:
  enum class Kind { kSplit, kByteLevel, kMetaspace };
  enum class Behavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext };
  struct Piece {
    std::string text;
    bool at_input_start = false;
  };
  struct Step {
    Kind kind = Kind::kSplit;
    std::unique_ptr<const Regex> pattern;  // kSplit; kByteLevel with use_regex
    Behavior behavior = Behavior::kIsolated;
    bool invert = false;            // kSplit
    bool add_prefix_space = false;  // kByteLevel; kMetaspace: prepend_scheme "always"
    bool prepend_first = false;     // kMetaspace: prepend_scheme "first"
    bool split = true;              // kMetaspace
    std::string replacement;        // kMetaspace
  };

  absl::Status Add(const JsonReader& json, int depth);
  void Apply(const Step& step, Piece piece, std::vector<Piece>& out) const;

  std::vector<Step> steps_;  // a Sequence, flattened
};

}  // namespace ghost::tokenizer

#endif  // GHOST_ENGINE_TOKENIZER_PRE_TOKENIZERS_H_
