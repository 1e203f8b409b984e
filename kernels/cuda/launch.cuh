// Launch geometry shared by the kernels/cuda kernels. Internal to kernels/cuda.
#ifndef GHOST_KERNELS_CUDA_LAUNCH_CUH_
#define GHOST_KERNELS_CUDA_LAUNCH_CUH_

#include <cstddef>

namespace ghost::kernels::cuda::internal {

inline constexpr int kThreads = 256;
inline constexpr int kWarp = 32;

// Blocks of kThreads for a grid-stride loop over `count` items (at most 65535 * 16 blocks; the
// loop covers the rest).
inline unsigned GridFor(std::size_t count) {
  const std::size_t blocks = (count + kThreads - 1) / kThreads;
  constexpr std::size_t kMaxBlocks = 65535 * 16;
  return static_cast<unsigned>(blocks == 0 ? 1 : (blocks < kMaxBlocks ? blocks : kMaxBlocks));
}

__device__ __forceinline__ float WarpSum(float v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float WarpMax(float v) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  }
  return v;
}

// The sum of `v` over the block (blockDim.x a multiple of 32, at most 1024), in every thread.
// `scratch` holds 32 floats of shared memory; the block must reach this call together.
__device__ __forceinline__ float BlockSum(float v, float* scratch) {
  const int lane = threadIdx.x % kWarp;
  const int warp = threadIdx.x / kWarp;
  const int warps = blockDim.x / kWarp;
  v = WarpSum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.0f;
  return WarpSum(v);
}

__device__ __forceinline__ float BlockMax(float v, float* scratch) {
  const int lane = threadIdx.x % kWarp;
  const int warp = threadIdx.x / kWarp;
  const int warps = blockDim.x / kWarp;
  v = WarpMax(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : -INFINITY;
  return WarpMax(v);
}

}  // namespace ghost::kernels::cuda::internal

#endif  // GHOST_KERNELS_CUDA_LAUNCH_CUH_
