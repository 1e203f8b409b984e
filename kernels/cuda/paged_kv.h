// The paged KV cache as the CUDA kernels see one layer of it, and a step's tokens: the rotary
// embedding + key/value store of a step, and paged attention (decode and chunked prefill;
// causal, grouped-query, sliding window). Semantics as the CPU's (kernels/cpu/attention.h,
// elementwise.h RopeQk, engine/backend/kv_cache.h); plain C++ launchers.
#ifndef GHOST_KERNELS_CUDA_PAGED_KV_H_
#define GHOST_KERNELS_CUDA_PAGED_KV_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "kernels/cuda/cuda_memory.h"

namespace ghost::kernels::cuda {

// One layer's keys and values in device memory: position row `row` of cache block `b` holds
// kv_dim elements at keys + b * block_stride + row * kv_dim * element size (values alike).
struct DeviceKvLayer {
  void* keys = nullptr;          // block 0's keys of the layer
  void* values = nullptr;        // block 0's values of the layer
  std::size_t block_stride = 0;  // bytes from one block's keys (or values) to the next's
  int block_tokens = 0;
  bool bf16 = false;  // elements are bf16 (rounded to nearest even), else fp32
};

struct AttentionHeads {
  int num_heads = 0;
  int num_kv_heads = 0;    // divides num_heads
  int head_dim = 0;        // even, at most kMaxHeadDim
  int sliding_window = 0;  // 0: all earlier positions; else p - window < s <= p
};
inline constexpr int kMaxHeadDim = 512;

// One new token of a step, in device memory: its position, and where its sequence's block table
// starts in the step's concatenated tables (position p is in blocks[blocks_offset + p /
// block_tokens]).
struct StepToken {
  std::int32_t position = 0;
  std::int32_t blocks_offset = 0;
};

// For each of the n tokens: rotates q [n, num_heads * head_dim] and k [n, num_kv_heads *
// head_dim] in place (half-split pairs, as Hugging Face's rotate_half) with cos/sin [n,
// head_dim / 2], then stores k and v at the token's position in `layer`.
absl::Status RopeAndStoreKv(const AttentionHeads& heads, const float* cos, const float* sin,
                            const StepToken* tokens, const std::int32_t* blocks, std::size_t n,
                            float* q, float* k, const float* v, const DeviceKvLayer& layer,
                            StreamHandle stream);

// out [n, num_heads * head_dim]: each token's attention over the cached positions its position
// sees (all stored already), scores scaled by 1 / sqrt(head_dim), softmax in fp32.
absl::Status PagedAttention(const AttentionHeads& heads, const float* q, const StepToken* tokens,
                            const std::int32_t* blocks, std::size_t n, const DeviceKvLayer& layer,
                            float* out, StreamHandle stream);

}  // namespace ghost::kernels::cuda

#endif  // GHOST_KERNELS_CUDA_PAGED_KV_H_
