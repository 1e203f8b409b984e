// Writing a model directory (a source model, or one the compressor wrote) as one GGUF file that
// llama.cpp can run and Model::Load reads back to the same weights and logits.
//
// Tensors get llama.cpp's names (gguf_import.h has the table) and, for the llama architecture,
// its q/k row order. Dense tensors keep their stored precision (F32, F16 or BF16; vectors are
// widened to F32 as llama.cpp expects). Compressed linears map to ggml's ternary types without
// re-quantizing: ternary-2bit at block 64 -> Q2_0, ternary-2bit at block 256 -> TQ2_0,
// ternary-base3 at block 256 -> TQ1_0 (the same trits and fp16 scale per block in ggml's byte
// order); two-level scales are written as the fp16 block scales the server runs with. Other
// formats and block sizes have no ggml type and are refused (FAILED_PRECONDITION naming them).
// Removed neurons: when every layer keeps the same number k, the file is a model with
// intermediate size k; otherwise FAILED_PRECONDITION. Activation gates are Ghost Serve's alone:
// a gated model stores down_proj transposed for them, which no ggml type can express, so it is
// refused (compress with target_sparsity 0 to export). Metadata: general.architecture, name,
// file_type, quantization_version, the <arch>.* hyper-parameters, the tokenizer
// (gguf_vocab.h) and tokenizer.chat_template from tokenizer_config.json when it has one.
#ifndef GHOST_ENGINE_COMPRESSOR_GGUF_EXPORT_H_
#define GHOST_ENGINE_COMPRESSOR_GGUF_EXPORT_H_

#include <string>

#include "absl/status/status.h"

namespace ghost::compress {

// Writes `model_dir` as `output_path` (durably: temp file, fsync, rename).
[[nodiscard]] absl::Status ExportGguf(const std::string& model_dir, const std::string& output_path);

}  // namespace ghost::compress

#endif  // GHOST_ENGINE_COMPRESSOR_GGUF_EXPORT_H_
