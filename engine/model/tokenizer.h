// Tokenizers read from tokenizer.json. This version supports byte-level models (a BPE model
// with a ByteLevel pre-tokenizer, the 256 byte symbols as its vocabulary and no merges) plus
// added/special tokens; BPE with merges comes with the real-model work.
#ifndef GHOST_ENGINE_MODEL_TOKENIZER_H_
#define GHOST_ENGINE_MODEL_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ghost {

class Tokenizer {
 public:
  // Parses tokenizer.json. Errors name the file and what is unsupported.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromFile(const std::string& path);
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromJson(std::string_view json,
                                                             const std::string& source_name);
  virtual ~Tokenizer() = default;

  // Text to ids. Special tokens written literally in the text (e.g. "</s>") are matched only
  // when parse_special is true.
  virtual std::vector<std::int32_t> Encode(std::string_view text, bool parse_special) const = 0;
  // Ids to bytes (may be invalid UTF-8 for a byte-level model). INVALID_ARGUMENT for an id
  // outside the vocabulary.
  virtual absl::StatusOr<std::string> Decode(absl::Span<const std::int32_t> ids,
                                             bool skip_special) const = 0;
  virtual bool IsSpecial(std::int32_t id) const = 0;
  virtual int vocab_size() const = 0;
  virtual std::string type_name() const = 0;  // "byte-level"
};

// Turns a stream of token ids into UTF-8 text deltas that never split a character. Bytes that
// can never form valid UTF-8 become U+FFFD. Special tokens are skipped.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  // Returns the newly completed text (possibly empty).
  std::string Append(std::int32_t id);
  // Returns whatever is pending at the end of the stream (incomplete bytes become U+FFFD).
  std::string Flush();

 private:
  const Tokenizer& tokenizer_;
  std::string pending_;  // bytes of an incomplete UTF-8 sequence
};

}  // namespace ghost

#endif  // GHOST_ENGINE_MODEL_TOKENIZER_H_
