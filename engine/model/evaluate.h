// Bits per byte of a model on a text: the quality number reported for byte-level models.
#ifndef GHOST_ENGINE_MODEL_EVALUATE_H_
#define GHOST_ENGINE_MODEL_EVALUATE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/model/model.h"

namespace ghost {

struct EvalResult {
  double bits_per_byte = 0.0;
  std::int64_t bytes_predicted = 0;
  // Fraction of gated MLP activations the gates zeroed; 0 for models without gates.
  double mlp_activation_sparsity = 0.0;
};

// -log2 of the probability one row of logits ([vocab]) gives token `next`, computed in double
// with the row's maximum subtracted first.
double NextTokenBits(const float* row, std::size_t vocab, std::int32_t next);

// Called before every forward chunk with the tokens done and the total; a status other than OK
// (a cancellation) stops the work and is returned as it is.
using BeforeChunkFn = absl::FunctionRef<absl::Status(std::int64_t done, std::int64_t total)>;

// The text's bytes are the token ids (no BOS/EOS). It is cut into consecutive windows of
// `window` tokens from 0 (the last may be shorter); a window of L tokens predicts its L-1 next
// tokens. bits_per_byte = sum of -log2 p(token[t+1] | window prefix) / number of predictions.
// Each window runs through one session in forward calls of at most `chunk_tokens` (>= 1) tokens,
// `before_chunk` called before each, so that a long evaluation can stop between any two.
// UNIMPLEMENTED for tokenizers that are not byte-level; INVALID_ARGUMENT for a window outside
// [2, context], chunk_tokens < 1 or a text with nothing to predict.
absl::StatusOr<EvalResult> EvaluateBitsPerByte(const Model& model, std::string_view text,
                                               int window, int chunk_tokens,
                                               BeforeChunkFn before_chunk);
// The same with one forward call per window and nothing to stop it.
absl::StatusOr<EvalResult> EvaluateBitsPerByte(const Model& model, std::string_view text,
                                               int window = 512);

}  // namespace ghost

#endif  // GHOST_ENGINE_MODEL_EVALUATE_H_
