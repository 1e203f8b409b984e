// tokenizer.json "decoder": token strings back to bytes. Every supported decoder works token by
// token, the only context being whether a token comes first, so decoding a sequence is the
// concatenation of its tokens' pieces and streaming needs no look-back. Supported: ByteLevel,
// Metaspace, and a Sequence of Replace / ByteFallback / Fuse / Strip (the SentencePiece chain
// [Replace("▁", " "), ByteFallback, Fuse, Strip(" ", 1, 0)]); no decoder joins tokens with
// spaces, as the Rust tokenizers do. After Fuse, only steps that still act per token are
// accepted (a one-character Replace, a Strip of at most one leading character).
#ifndef GHOST_ENGINE_TOKENIZER_DECODERS_H_
#define GHOST_ENGINE_TOKENIZER_DECODERS_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer_json.h"

namespace ghost::tokenizer {

class Decoder {
 public:
  // `json` is the "decoder" object.
  static absl::StatusOr<std::unique_ptr<Decoder>> FromJson(const JsonReader& json);
  // The decoder of a file whose "decoder" is null.
  static std::unique_ptr<Decoder> JoinWithSpaces();

  // Appends the bytes of one token: `token` as the vocabulary spells it, `added` for added
  // tokens (whose content is literal text, never byte-alphabet symbols), `position` its index
  // among the tokens decoded (0 = first).
  void Append(std::string_view token, bool added, std::size_t position, std::string& out) const;

 private:
  enum class Kind { kByteLevel, kReplace, kByteFallback, kStrip, kMetaspace, kJoinWithSpaces };
  struct Step {
    Kind kind = Kind::kByteLevel;
    std::string from;  // kReplace: the pattern; kStrip: the character; kMetaspace: replacement
    std::string to;    // kReplace
    int strip_start = 0;
    int strip_stop = 0;
    bool first_only = false;  // kStrip after Fuse: applies to the start of the whole text
    bool drop_first = false;  // kMetaspace: the first token loses its replacement characters
  };

  absl::Status Add(const JsonReader& json, int depth);

  std::vector<Step> steps_;  // a Sequence, flattened
  bool fused_ = false;       // a Fuse step has been read
};

}  // namespace ghost::tokenizer

#endif  // GHOST_ENGINE_TOKENIZER_DECODERS_H_
