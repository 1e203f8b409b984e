// A llama- or qwen2-architecture GGUF file as the parts of a Hugging Face model directory, so
// Model::Load serves it through the same path (config parser, tokenizer.json pipeline, weight
// loader) as a directory:
//   config       config.json's keys from general.architecture and <arch>.* (context_length,
//                embedding_length, block_count, feed_forward_length, attention.head_count[_kv],
//                attention.key_length, attention.layer_norm_rms_epsilon, rope.freq_base,
//                rope.scaling.{type,factor} (linear), vocab_size) and the
//                tokenizer's BOS/EOS ids; tie_word_embeddings when output.weight is absent.
//   tokenizer    gguf_vocab.h.
//   chat_template  tokenizer.chat_template, "" when absent (for the chat-template renderer).
//   weights      every tensor under its Hugging Face name (token_embd -> model.embed_tokens,
//                blk.N.attn_q -> model.layers.N.self_attn.q_proj, ffn_gate -> mlp.gate_proj,
//                attn_norm -> input_layernorm, ffn_norm -> post_attention_layernorm, output_norm
//                -> model.norm, output -> lm_head), in a checkpoint held in memory.
// Tensor types: F32, F16 and BF16 are kept; Q8_0 and Q4_0 are dequantized to F32 (exact: every
// value is an fp16 scale times a small integer); Q2_0, TQ2_0 and TQ1_0 linears become our
// ternary q-tensors (quantization_config.h) with the same codes and fp16 scales, so they run on
// the low-bit kernels: ternary-2bit at block 64 when any tensor is Q2_0 (a TQ block of 256 is
// four blocks of 64 with its scale repeated), else ternary-2bit at block 256 for TQ2_0, or
// ternary-base3 at block 256 when every ternary tensor is TQ1_0. A ternary-typed embedding or
// head, or a Q2_0 tensor that uses the code for +2, is dequantized to F32. Other types are
// UNIMPLEMENTED naming the type and the tensor.
// llama.cpp's converter permutes the rows of attn_q / attn_k of llama-architecture models (its
// rope rotates adjacent pairs, Hugging Face's rotates halves); the import undoes it. qwen2 files
// are not permuted.
// The converted checkpoint is a copy: while loading, the process holds the mapping and it.
#ifndef GHOST_ENGINE_CHECKPOINT_GGUF_IMPORT_H_
#define GHOST_ENGINE_CHECKPOINT_GGUF_IMPORT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/checkpoint/checkpoint.h"
#include "engine/checkpoint/gguf.h"
#include "nlohmann/json.hpp"

namespace ghost {

struct GgufModel {
  nlohmann::json config;
  std::string tokenizer_json;
  std::string chat_template;
  std::unique_ptr<SafetensorsCheckpoint> weights;
};

// UNIMPLEMENTED for another architecture, tensor type or rope layout (naming it);
// INVALID_ARGUMENT naming the key or tensor for missing or inconsistent ones.
absl::StatusOr<GgufModel> ImportGguf(const GgufFile& file);

// The config part alone (no tensor is converted): for a registry that lists models without
// loading them.
absl::StatusOr<nlohmann::json> ImportGgufConfig(const GgufFile& file);

// llama.cpp's row order for the q (heads = attention heads) or k (heads = kv heads) projection
// of a llama model: GGUF row h * d + 2 * i + p holds Hugging Face row h * d + p * d / 2 + i
// (d = rows / heads). Maps a GGUF row to its Hugging Face row.
std::int64_t LlamaRopeRowToHf(std::int64_t gguf_row, std::int64_t rows, std::int64_t heads);

}  // namespace ghost

#endif  // GHOST_ENGINE_CHECKPOINT_GGUF_IMPORT_H_
