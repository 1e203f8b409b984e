// Random-weight model directories of TinyLlama-1.1B's shape (hidden 2048, 22 layers, ffn
// 5632, 32 heads / 4 KV heads, vocab 32000) for benchmarks that need a real-sized model:
// bf16, f16, or compressed as the ghost compressor would write it (random codes and scales, so
// writing takes seconds instead of a compression run). The weights mean nothing; the byte
// counts and the kernels they exercise are real.
#ifndef GHOST_BENCH_RANDOM_MODEL_H_
#define GHOST_BENCH_RANDOM_MODEL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace ghost::bench {

// "bf16", "f16", then the compressor's schemes ("ternary", "ternary-base3", "codebook4", ...).
const std::vector<std::string>& RandomModelFormats();

// Writes the model into the existing directory `dir`, with the tokenizer.json of
// `tokenizer_dir`. f16 stores every tensor in f16; compressed formats use `block_size` and
// keep embeddings, norms and lm_head in bf16.
absl::Status WriteRandomTinyLlama(const std::string& dir, const std::string& tokenizer_dir,
                                  const std::string& format, int block_size = 64);

}  // namespace ghost::bench

#endif  // GHOST_BENCH_RANDOM_MODEL_H_
