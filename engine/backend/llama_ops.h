// The engine's side of the Llama forward's element-wise and attention pieces, on fp32
// activations, over kernels/cpu (elementwise.h, attention.h). The matrix products go through
// MatMul (weight_matrix.h).
#ifndef GHOST_ENGINE_BACKEND_LLAMA_OPS_H_
#define GHOST_ENGINE_BACKEND_LLAMA_OPS_H_

#include <cstddef>
#include <vector>

#include "absl/types/span.h"
#include "engine/backend/kv_cache.h"

namespace ghost {

// row[c] += bias[c] for n rows of `dim` values (Qwen2's q/k/v biases).
void AddBias(float* rows, std::size_t n, std::size_t dim, const float* bias);

// The rotary embedding's cos and sin of one position, head_dim / 2 values each, for
// kernels::RopeQk: computed in double once per position and step, shared by every head and
// layer. inv_freq comes from RopeInverseFrequencies (rope.h).
void RopeCosSin(const std::vector<double>& inv_freq, int position, float* cos, float* sin);

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

// One sequence's cached keys and values of one layer in a paged KV cache: position s is row
// s % block_tokens of key_blocks[s / block_tokens] (values alike); rows hold
// num_kv_heads * head_dim elements of `dtype`.
struct PagedKvView {
  absl::Span<const void* const> key_blocks;
  absl::Span<const void* const> value_blocks;
  int block_tokens = 0;
  KvDtype dtype = KvDtype::kF32;
};

// Causal grouped-query attention of `n` new positions [first, first + n) over the cache, which
// already holds positions [0, first + n). q and out: [n, num_heads * head_dim]. Reads the
// blocks in place (kernels::PagedAttention); allocates nothing once warm.
void CausalAttention(const AttentionShape& shape, const float* q, std::size_t n, int first,
                     const PagedKvView& kv, float* out);

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_LLAMA_OPS_H_
