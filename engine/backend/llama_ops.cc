#include "engine/backend/llama_ops.h"

#include <cmath>

#include "kernels/cpu/attention.h"

namespace ghost {

void AddBias(float* rows, std::size_t n, std::size_t dim, const float* bias) {
  for (std::size_t t = 0; t < n; ++t) {
    float* row = rows + t * dim;
    for (std::size_t c = 0; c < dim; ++c) row[c] += bias[c];
  }
}

void RopeCosSin(const std::vector<double>& inv_freq, int position, float* cos, float* sin) {
  for (std::size_t i = 0; i < inv_freq.size(); ++i) {
    const double angle = position * inv_freq[i];
    cos[i] = static_cast<float>(std::cos(angle));
    sin[i] = static_cast<float>(std::sin(angle));
  }
}

void CausalAttention(const AttentionShape& shape, const float* q, std::size_t n, int first,
                     const PagedKvView& kv, float* out) {
  const kernels::AttentionDims dims{
      static_cast<std::size_t>(shape.num_heads), static_cast<std::size_t>(shape.num_kv_heads),
      static_cast<std::size_t>(shape.head_dim), static_cast<std::size_t>(shape.sliding_window)};
  const kernels::PagedKvBlocks blocks{kv.key_blocks.data(), kv.value_blocks.data(),
                                      static_cast<std::size_t>(kv.block_tokens), kv.dtype};
  kernels::PagedAttention(dims, q, n, static_cast<std::size_t>(first), blocks, out);
}

}  // namespace ghost
