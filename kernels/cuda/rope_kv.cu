// RopeAndStoreKv (paged_kv.h): one block per token.
#include <cuda_bf16.h>

#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/paged_kv.h"

namespace ghost::kernels::cuda {
namespace {

__device__ __forceinline__ void StoreElement(void* row, std::size_t i, float value, bool bf16) {
  if (bf16) {
    static_cast<__nv_bfloat16*>(row)[i] = __float2bfloat16_rn(value);
  } else {
    static_cast<float*>(row)[i] = value;
  }
}

__global__ void RopeAndStoreKvKernel(AttentionHeads heads, const float* cos, const float* sin,
                                     const StepToken* tokens, const std::int32_t* blocks,
                                     std::size_t n, float* q, float* k, const float* v,
                                     DeviceKvLayer layer) {
  const int head_dim = heads.head_dim;
  const int half = head_dim / 2;
  const std::size_t q_dim = static_cast<std::size_t>(heads.num_heads) * head_dim;
  const std::size_t kv_dim = static_cast<std::size_t>(heads.num_kv_heads) * head_dim;
  const std::size_t element = layer.bf16 ? 2 : 4;
  for (std::size_t t = blockIdx.x; t < n; t += gridDim.x) {
    const float* c = cos + t * half;
    const float* s = sin + t * half;
    float* qt = q + t * q_dim;
    for (int idx = threadIdx.x; idx < heads.num_heads * half; idx += blockDim.x) {
      float* x = qt + (idx / half) * head_dim;
      const int i = idx % half;
      const float x1 = x[i];
      const float x2 = x[half + i];
      x[i] = x1 * c[i] - x2 * s[i];
      x[half + i] = x2 * c[i] + x1 * s[i];
    }
    const int position = tokens[t].position;
    const std::size_t block =
        static_cast<std::size_t>(blocks[tokens[t].blocks_offset + position / layer.block_tokens]);
    const std::size_t row_offset =
        block * layer.block_stride + (position % layer.block_tokens) * kv_dim * element;
    void* key_row = static_cast<char*>(layer.keys) + row_offset;
    void* value_row = static_cast<char*>(layer.values) + row_offset;
    float* kt = k + t * kv_dim;
    for (int idx = threadIdx.x; idx < heads.num_kv_heads * half; idx += blockDim.x) {
      const std::size_t base = static_cast<std::size_t>(idx / half) * head_dim;
      const int i = idx % half;
      const float x1 = kt[base + i];
      const float x2 = kt[base + half + i];
      const float r1 = x1 * c[i] - x2 * s[i];
      const float r2 = x2 * c[i] + x1 * s[i];
      kt[base + i] = r1;
      kt[base + half + i] = r2;
      StoreElement(key_row, base + i, r1, layer.bf16);
      StoreElement(key_row, base + half + i, r2, layer.bf16);
    }
    for (std::size_t i = threadIdx.x; i < kv_dim; i += blockDim.x) {
      StoreElement(value_row, i, v[t * kv_dim + i], layer.bf16);
    }
  }
}

}  // namespace

absl::Status RopeAndStoreKv(const AttentionHeads& heads, const float* cos, const float* sin,
                            const StepToken* tokens, const std::int32_t* blocks, std::size_t n,
                            float* q, float* k, const float* v, const DeviceKvLayer& layer,
                            StreamHandle stream) {
  if (n == 0) return absl::OkStatus();
  const unsigned grid = static_cast<unsigned>(n < 65535 ? n : 65535);
  RopeAndStoreKvKernel<<<grid, internal::kThreads, 0, stream>>>(heads, cos, sin, tokens, blocks, n,
                                                                q, k, v, layer);
  GHOST_CUDA_RETURN_IF_LAUNCH_FAILED("RopeAndStoreKvKernel");
  return absl::OkStatus();
}

}  // namespace ghost::kernels::cuda
