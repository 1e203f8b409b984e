// The BPE tokenizers of tokenizer.json ("byte-level-bpe" and "bpe"): added tokens, normalizer,
// pre-tokenizer, BPE model and post-processor when encoding; the decoder when decoding.
#ifndef GHOST_ENGINE_TOKENIZER_BPE_TOKENIZER_H_
#define GHOST_ENGINE_TOKENIZER_BPE_TOKENIZER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/tokenizer_json.h"

namespace ghost::tokenizer {

absl::StatusOr<std::unique_ptr<Tokenizer>> CreateBpeTokenizer(const Json& json,
                                                              const std::string& source);

}  // namespace ghost::tokenizer

#endif  // GHOST_ENGINE_TOKENIZER_BPE_TOKENIZER_H_
