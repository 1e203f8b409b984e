// The element-wise and attention pieces of the Llama forward, on fp32 activations. The
// matrix products go through MatMul (weight_matrix.h).
#ifndef GHOST_ENGINE_MODEL_LLAMA_OPS_H_
#define GHOST_ENGINE_MODEL_LLAMA_OPS_H_

#include <cstddef>
#include <vector>

namespace ghost {

// out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * weight, for n rows of `dim` values.
void RmsNorm(const float* x, std::size_t n, std::size_t dim, const float* weight, double eps,
             float* out);

// inv_freq[i] = theta^(-2i / head_dim), i < head_dim / 2.
std::vector<double> RopeInverseFrequencies(int head_dim, double theta);

// Rotates `num_heads` heads of one position in place, HF rotate_half convention: dimension i
// pairs with i + head_dim/2.
void ApplyRope(float* heads, int num_heads, int head_dim, int position,
               const std::vector<double>& inv_freq);

// gate[i] = silu(gate[i]) * up[i].
void SiluMul(float* gate, const float* up, std::size_t count);

// Causal grouped-query attention for one query position over the cached keys/values of
// positions [0, num_positions). q: [num_heads, head_dim]; caches: [position, kv_heads,
// head_dim]; out: [num_heads, head_dim]. `scores` is scratch of num_positions floats.
struct AttentionShape {
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
};
void Attend(const AttentionShape& shape, const float* q, const float* k_cache, const float* v_cache,
            int num_positions, float* scores, float* out);

}  // namespace ghost

#endif  // GHOST_ENGINE_MODEL_LLAMA_OPS_H_
