// A GGUF file's tokenizer as a Hugging Face tokenizer.json document, so the one tokenizer.json
// pipeline (engine/tokenizer) serves GGUF models too.
//
// tokenizer.huggingface.json, when the file carries it (our exporter writes it), is used as is:
// it is the exact tokenizer. Otherwise the document is built from tokenizer.ggml.*:
//   model "gpt2"   byte-level BPE: tokens (already in the byte-to-unicode alphabet) and merges;
//                  the pre-tokenizer from tokenizer.ggml.pre ("default"/"gpt2": GPT-2's regex,
//                  "llama-bpe"/"llama3": Llama 3's split, "qwen2": Qwen2's split).
//   model "llama"  SentencePiece BPE with byte fallback (<0xNN> tokens): merges rebuilt from the
//                  scores (a merge's rank is the score of the piece it makes, higher first, as
//                  SentencePiece merges), "▁" for spaces, a "▁" prefix unless
//                  tokenizer.ggml.add_space_prefix is false.
// Token types (tokenizer.ggml.token_type): 2 unknown and 3 control become special added tokens,
// 4 user-defined plain added tokens. tokenizer.ggml.add_bos_token (default true for "llama",
// false for "gpt2") prepends the BOS token through a TemplateProcessing post-processor.
#ifndef GHOST_ENGINE_CHECKPOINT_GGUF_VOCAB_H_
#define GHOST_ENGINE_CHECKPOINT_GGUF_VOCAB_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "engine/checkpoint/gguf.h"
#include "engine/checkpoint/gguf_writer.h"

namespace ghost {

// INVALID_ARGUMENT naming the key for missing or inconsistent vocabulary keys; UNIMPLEMENTED
// naming the model or pre-tokenizer for other tokenizer kinds.
absl::StatusOr<std::string> GgufTokenizerJson(const GgufFile& file);

// The other way, for export: tokenizer.json's BPE model as tokenizer.ggml.* keys (llama.cpp
// reads these) plus tokenizer.huggingface.json (the exact document, which GgufTokenizerJson
// prefers). byte_fallback BPE becomes "llama" (scores -id, <0xNN> tokens typed as bytes),
// other BPE "gpt2" with its merges and tokenizer.ggml.pre "llama-bpe" or "qwen2" when the
// split regex is theirs, else "default". Ids missing from the vocabulary are filled with
// "[PAD<id>]" tokens of type unused, as llama.cpp's converter does. `bos` / `eos` are the
// model's ids (negative: absent). UNIMPLEMENTED for a non-BPE model; INVALID_ARGUMENT for a
// malformed document.
absl::Status AddTokenizerMetadata(const std::string& tokenizer_json, std::int64_t bos,
                                  std::int64_t eos, GgufWriter& writer);

}  // namespace ghost

#endif  // GHOST_ENGINE_CHECKPOINT_GGUF_VOCAB_H_
