// PagedAttention (paged_kv.h): one block per (token, query head). The visible positions are
// scored a chunk at a time into shared memory, with a running maximum and sum (the softmax
// rescaled as the maximum grows), so any context length runs in fixed shared memory; each
// thread owns some of the head's output dimensions and sums the chunk's values into them.
#include <cuda_bf16.h>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/paged_kv.h"

namespace ghost::kernels::cuda {
namespace {

constexpr int kChunk = 256;  // positions scored per pass
constexpr int kAttentionThreads = 128;

template <bool kBf16>
__device__ __forceinline__ float Element(const void* row, int i) {
  if constexpr (kBf16) {
    return __bfloat162float(static_cast<const __nv_bfloat16*>(row)[i]);
  } else {
    return static_cast<const float*>(row)[i];
  }
}

template <bool kBf16>
__global__ void PagedAttentionKernel(AttentionHeads heads, const float* q, const StepToken* tokens,
                                     const std::int32_t* blocks, DeviceKvLayer layer, float* out) {
  extern __shared__ float shared[];
  __shared__ float scratch[32];
  const int head_dim = heads.head_dim;
  float* q_head = shared;           // head_dim, pre-scaled
  float* acc = q_head + head_dim;   // head_dim
  float* weights = acc + head_dim;  // kChunk
  const std::size_t t = blockIdx.x;
  const int h = blockIdx.y;
  const int kv_head = h / (heads.num_heads / heads.num_kv_heads);
  const std::size_t q_dim = static_cast<std::size_t>(heads.num_heads) * head_dim;
  const std::size_t kv_dim = static_cast<std::size_t>(heads.num_kv_heads) * head_dim;
  const std::size_t element = kBf16 ? 2 : 4;
  const float scale = rsqrtf(static_cast<float>(head_dim));
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    q_head[d] = q[t * q_dim + static_cast<std::size_t>(h) * head_dim + d] * scale;
    acc[d] = 0.0f;
  }
  const int position = tokens[t].position;
  const std::int32_t* table = blocks + tokens[t].blocks_offset;
  const int first = heads.sliding_window > 0 ? max(0, position - heads.sliding_window + 1) : 0;
  // The row of position s in the keys (or values) array `base`.
  auto row_of = [&](const void* base, int s) {
    const std::size_t block = static_cast<std::size_t>(table[s / layer.block_tokens]);
    return static_cast<const char*>(base) + block * layer.block_stride +
           ((s % layer.block_tokens) * kv_dim + static_cast<std::size_t>(kv_head) * head_dim) *
               element;
  };
  float running_max = -INFINITY;
  float running_sum = 0.0f;
  for (int s0 = first; s0 <= position; s0 += kChunk) {
    const int count = min(kChunk, position + 1 - s0);
    __syncthreads();  // q_head written; the previous chunk's weights read
    float local_max = -INFINITY;
    for (int j = threadIdx.x; j < count; j += blockDim.x) {
      const void* key = row_of(layer.keys, s0 + j);
      float dot = 0.0f;
      for (int d = 0; d < head_dim; ++d) dot += q_head[d] * Element<kBf16>(key, d);
      weights[j] = dot;
      local_max = fmaxf(local_max, dot);
    }
    const float chunk_max = internal::BlockMax(local_max, scratch);
    const float new_max = fmaxf(running_max, chunk_max);
    const float rescale = expf(running_max - new_max);  // 0 on the first chunk
    float local_sum = 0.0f;
    for (int j = threadIdx.x; j < count; j += blockDim.x) {
      const float w = expf(weights[j] - new_max);
      weights[j] = w;
      local_sum += w;
    }
    const float chunk_sum = internal::BlockSum(local_sum, scratch);  // also publishes weights
    running_sum = running_sum * rescale + chunk_sum;
    running_max = new_max;
    for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
      float sum = acc[d] * rescale;
      for (int j = 0; j < count; ++j)
        sum += weights[j] * Element<kBf16>(row_of(layer.values, s0 + j), d);
      acc[d] = sum;
    }
  }
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    out[t * q_dim + static_cast<std::size_t>(h) * head_dim + d] = acc[d] / running_sum;
  }
}

}  // namespace

absl::Status PagedAttention(const AttentionHeads& heads, const float* q, const StepToken* tokens,
                            const std::int32_t* blocks, std::size_t n, const DeviceKvLayer& layer,
                            float* out, StreamHandle stream) {
  if (heads.head_dim <= 0 || heads.head_dim > kMaxHeadDim || heads.num_kv_heads <= 0 ||
      heads.num_heads % heads.num_kv_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat("PagedAttention: unsupported heads ",
                                                   heads.num_heads, "/", heads.num_kv_heads, " of ",
                                                   heads.head_dim));
  }
  if (n == 0) return absl::OkStatus();
  if (n > 2147483647u) return absl::InvalidArgumentError("PagedAttention: too many tokens");
  const dim3 grid(static_cast<unsigned>(n), static_cast<unsigned>(heads.num_heads));
  const std::size_t shared =
      (2 * static_cast<std::size_t>(heads.head_dim) + kChunk) * sizeof(float);
  if (layer.bf16) {
    PagedAttentionKernel<true>
        <<<grid, kAttentionThreads, shared, stream>>>(heads, q, tokens, blocks, layer, out);
  } else {
    PagedAttentionKernel<false>
        <<<grid, kAttentionThreads, shared, stream>>>(heads, q, tokens, blocks, layer, out);
  }
  GHOST_CUDA_RETURN_IF_LAUNCH_FAILED("PagedAttentionKernel");
  return absl::OkStatus();
}

}  // namespace ghost::kernels::cuda
