// The byte-level tokenizer (type_name "byte-level"): every byte is one token, spelled in the
// GPT-2 byte alphabet, with no merges; plus added/special tokens matched literally. It encodes
// any bytes, valid UTF-8 or not, one token per byte (models/ghost-tiny).
#ifndef GHOST_ENGINE_TOKENIZER_BYTE_LEVEL_TOKENIZER_H_
#define GHOST_ENGINE_TOKENIZER_BYTE_LEVEL_TOKENIZER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/tokenizer_json.h"

namespace ghost::tokenizer {

// Whether tokenizer.json describes a byte-level tokenizer: a BPE model without merges, a lone
// ByteLevel pre-tokenizer without add_prefix_space, no normalizer, and a ByteLevel (or no)
// decoder and post-processor.
bool IsByteLevelTokenizer(const Json& json);

absl::StatusOr<std::unique_ptr<Tokenizer>> CreateByteLevelTokenizer(const Json& json,
                                                                    const std::string& source);

}  // namespace ghost::tokenizer

#endif  // GHOST_ENGINE_TOKENIZER_BYTE_LEVEL_TOKENIZER_H_
