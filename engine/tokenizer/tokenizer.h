// Tokenizers read from Hugging Face tokenizer.json files:
//  - "byte-level": every byte is one token (the GPT-2 byte alphabet as the vocabulary, no
//    merges; models/ghost-tiny). Any bytes, valid UTF-8 or not, round-trip exactly.
//  - "byte-level-bpe": BPE over bytes (GPT-2, Llama-3, Qwen2/3): Split + ByteLevel
//    pre-tokenizers, merges by rank, ignore_merges.
//  - "bpe": BPE over characters (SentencePiece-style: Llama-2, Mistral, TinyLlama): Prepend /
//    Replace normalizers or a Metaspace pre-tokenizer, byte_fallback, unk and fuse_unk.
// Both BPE kinds support added tokens, NFC-family normalizers and the post-processors needed to
// add BOS/EOS. Components outside that set are rejected with UNIMPLEMENTED naming them.
#ifndef GHOST_ENGINE_TOKENIZER_TOKENIZER_H_
#define GHOST_ENGINE_TOKENIZER_TOKENIZER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ghost {

class Tokenizer {
 public:
  // Parses tokenizer.json. Errors name the file and what is malformed or unsupported; no input
  // makes them crash.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromFile(const std::string& path);
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromJson(std::string_view json,
                                                             const std::string& source_name);
  virtual ~Tokenizer() = default;

  // Text to ids. Special tokens written literally in the text (e.g. "</s>") are matched only
  // when parse_special is true; non-special added tokens always are. add_special_tokens applies
  // the post-processor (e.g. a BOS token for Llama). BPE tokenizers first replace invalid UTF-8
  // with U+FFFD (one per maximal invalid subpart, as TextDecoder and Python do); the byte-level
  // tokenizer encodes the bytes as they are.
  std::vector<std::int32_t> Encode(std::string_view text, bool parse_special,
                                   bool add_special_tokens = false) const {
    return DoEncode(text, parse_special, add_special_tokens);
  }

  // Ids to bytes: the concatenation of AppendDecoded over the ids that are kept. May be invalid
  // UTF-8 (a byte-level token or byte-fallback token alone can be a partial character).
  // INVALID_ARGUMENT for an id outside the vocabulary.
  absl::StatusOr<std::string> Decode(absl::Span<const std::int32_t> ids, bool skip_special) const;

  // Appends the bytes that `id` contributes to Decode() when it is the `position`-th id decoded
  // (0-based, skipped special tokens not counted). A token's text depends only on the id and on
  // whether it comes first (SentencePiece decoders drop the first token's leading space), which
  // is what lets StreamDecoder produce Decode() piece by piece.
  virtual absl::Status AppendDecoded(std::int32_t id, std::size_t position,
                                     std::string& out) const = 0;

  virtual bool IsSpecial(std::int32_t id) const = 0;
  virtual int vocab_size() const = 0;
  // "byte-level", "byte-level-bpe" or "bpe".
  virtual std::string type_name() const = 0;

 private:
  virtual std::vector<std::int32_t> DoEncode(std::string_view text, bool parse_special,
                                             bool add_special_tokens) const = 0;
};

// Turns a stream of token ids into UTF-8 text deltas that never split a character; their
// concatenation equals Decode(ids, skip_special=true) with invalid UTF-8 repaired. Each token
// contributes its own bytes (Tokenizer::AppendDecoded), so no window of earlier tokens has to
// be decoded again; bytes of an incomplete character wait in a small buffer. Bytes that can
// never form valid UTF-8 become U+FFFD. Special tokens are skipped.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  // Returns the newly completed text (possibly empty).
  std::string Append(std::int32_t id);
  // Returns whatever is pending at the end of the stream (incomplete bytes become U+FFFD).
  std::string Flush();

 private:
  const Tokenizer& tokenizer_;
  std::size_t position_ = 0;  // tokens decoded so far
  std::string pending_;       // bytes of an incomplete UTF-8 sequence
};

}  // namespace ghost

#endif  // GHOST_ENGINE_TOKENIZER_TOKENIZER_H_
