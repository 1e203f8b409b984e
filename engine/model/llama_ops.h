// The element-wise and attention pieces of the Llama forward, on fp32 activations. The
// matrix products go through MatMul (weight_matrix.h).
#ifndef GHOST_ENGINE_MODEL_LLAMA_OPS_H_
#define GHOST_ENGINE_MODEL_LLAMA_OPS_H_

#include <cstddef>
#include <vector>

#include "absl/types/span.h"

namespace ghost {

// out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * weight, for n rows of `dim` values.
void RmsNorm(const float* x, std::size_t n, std::size_t dim, const float* weight, double eps,
             float* out);

// row[c] += bias[c] for n rows of `dim` values (Qwen2's q/k/v biases).
void AddBias(float* rows, std::size_t n, std::size_t dim, const float* bias);

// Rotates `num_heads` heads of one position in place, HF rotate_half convention: dimension i
// pairs with i + head_dim/2. inv_freq comes from RopeInverseFrequencies (rope.h).
void ApplyRope(float* heads, int num_heads, int head_dim, int position,
               const std::vector<double>& inv_freq);

// gate[i] = silu(gate[i]) * up[i].
void SiluMul(float* gate, const float* up, std::size_t count);

struct AttentionShape {
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  // 0: every earlier position is visible. Else Mistral's sliding window, with the Hugging Face
  // convention (transformers masking_utils: kv_idx > q_idx - sliding_window): the query at
  // position p sees keys at positions p - window < s <= p, i.e. `window` positions counting
  // its own. The cache keeps every position; older ones are only masked.
  int sliding_window = 0;
};

// Buffers reused across calls so that decoding allocates nothing.
struct AttentionScratch {
  std::vector<float> queries, keys, values_t, scores, outputs;
};

// One sequence's cached keys and values of one layer in a paged KV cache: position s is row
// s % block_tokens of key_blocks[s / block_tokens] (values alike); rows hold
// num_kv_heads * head_dim floats.
struct PagedKvView {
  absl::Span<const float* const> key_blocks;
  absl::Span<const float* const> value_blocks;
  int block_tokens = 0;
};

// Causal grouped-query attention of `n` new positions [first, first + n) over the cache, which
// already holds positions [0, first + n). q and out: [n, num_heads * head_dim]. The keys and
// values are gathered from their blocks into contiguous buffers, then the scores and the
// weighted sums run through the matrix kernels, one call per kv head for all of its query
// heads and positions.
void CausalAttention(const AttentionShape& shape, const float* q, std::size_t n, int first,
                     const PagedKvView& kv, AttentionScratch& scratch, float* out);

}  // namespace ghost

#endif  // GHOST_ENGINE_MODEL_LLAMA_OPS_H_
