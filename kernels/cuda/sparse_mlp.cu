// SparseMlp (sparse_mlp.h) in three kernels over groups of up to kGroup tokens:
//   1. one warp per neuron j: a[t, j] = h[t, j] * (up[j] . x[t]) where h[t, j] != 0, else 0;
//      the up row is read only when some token of the group needs j;
//   2. one thread per output column and chunk of kNeuronChunk neurons: partial[chunk, t, c] =
//      sum over the chunk's needed neurons of a[t, j] * down_t[j, c];
//   3. out[t, c] = the chunks' partial sums, in chunk order.
#include <cstdint>

#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/sparse_mlp.h"
#include "kernels/cuda/weight_decode.cuh"

namespace ghost::kernels::cuda {
namespace {

using internal::kWarp;
using internal::WeightsArgs;

constexpr std::size_t kGroup = 64;  // tokens per pass
constexpr int kTile = 8;            // tokens per register tile
constexpr std::size_t kNeuronChunk = 1024;
constexpr int kWarpsPerBlock = 8;
constexpr int kColumnThreads = 256;

template <WeightFormat F>
__global__ void UpKernel(const float* x, const float* h, std::size_t n, std::size_t inner,
                         WeightsArgs up, float* a) {
  const std::size_t j = blockIdx.x * std::size_t{kWarpsPerBlock} + threadIdx.x / kWarp;
  if (j >= inner) return;
  const int lane = threadIdx.x % kWarp;
  bool needed = false;
  for (std::size_t t = 0; t < n; ++t) needed = needed || h[t * inner + j] != 0.0f;
  if (!needed) {
    for (std::size_t t = lane; t < n; t += kWarp) a[t * inner + j] = 0.0f;
    return;
  }
  for (std::size_t t0 = 0; t0 < n; t0 += kTile) {
    float acc[kTile];
#pragma unroll
    for (int t = 0; t < kTile; ++t) acc[t] = 0.0f;
    for (std::size_t c = lane; c < up.cols; c += kWarp) {
      const float w = internal::WeightAt<F>(up, j, c);
#pragma unroll
      for (int t = 0; t < kTile; ++t) {
        if (t0 + t < n) acc[t] += w * x[(t0 + t) * up.cols + c];
      }
    }
#pragma unroll
    for (int t = 0; t < kTile; ++t) {
      const float dot = internal::WarpSum(acc[t]);
      if (lane == 0 && t0 + t < n) {
        const float gate = h[(t0 + t) * inner + j];
        a[(t0 + t) * inner + j] = gate != 0.0f ? gate * dot : 0.0f;
      }
    }
  }
}

template <WeightFormat F>
__global__ void DownKernel(const float* a, std::size_t n, std::size_t inner, WeightsArgs down_t,
                           float* partial) {
  const std::size_t hidden = down_t.cols;
  const std::size_t c = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x;
  const std::size_t chunk = blockIdx.y;
  const std::size_t first = chunk * kNeuronChunk;
  const std::size_t last = first + kNeuronChunk < inner ? first + kNeuronChunk : inner;
  for (std::size_t t0 = 0; t0 < n; t0 += kTile) {
    float acc[kTile];
#pragma unroll
    for (int t = 0; t < kTile; ++t) acc[t] = 0.0f;
    for (std::size_t j = first; j < last; ++j) {
      float coefficient[kTile];
      bool any = false;
#pragma unroll
      for (int t = 0; t < kTile; ++t) {
        coefficient[t] = t0 + t < n ? a[(t0 + t) * inner + j] : 0.0f;
        any = any || coefficient[t] != 0.0f;
      }
      if (!any || c >= hidden) continue;  // the same j for the whole block: no divergence
      const float w = internal::WeightAt<F>(down_t, j, c);
#pragma unroll
      for (int t = 0; t < kTile; ++t) acc[t] += coefficient[t] * w;
    }
    if (c < hidden) {
#pragma unroll
      for (int t = 0; t < kTile; ++t) {
        if (t0 + t < n) partial[(chunk * n + t0 + t) * hidden + c] = acc[t];
      }
    }
  }
}

__global__ void SumChunksKernel(const float* partial, std::size_t chunks, std::size_t count,
                                float* out) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < count;
       i += std::size_t{gridDim.x} * blockDim.x) {
    float sum = 0.0f;
    for (std::size_t k = 0; k < chunks; ++k) sum += partial[k * count + i];
    out[i] = sum;
  }
}

}  // namespace

absl::Status SparseMlp(const float* x, const float* h, std::size_t n, std::size_t hidden,
                       std::size_t inner, const DeviceWeights& up, const DeviceWeights& down_t,
                       float* out, DeviceBuffer& scratch, StreamHandle stream) {
  if (n == 0 || hidden == 0) return absl::OkStatus();
  if (inner == 0) return ZeroOnDevice(out, n * hidden * sizeof(float), stream);
  const std::size_t chunks = (inner + kNeuronChunk - 1) / kNeuronChunk;
  const std::size_t group = n < kGroup ? n : kGroup;
  const std::size_t a_floats = group * inner;
  if (absl::Status s = Reserve(scratch, (a_floats + chunks * group * hidden) * sizeof(float));
      !s.ok()) {
    return s;
  }
  float* a = scratch.as<float>();
  float* partial = a + a_floats;
  const WeightsArgs up_args = internal::ArgsOf(up);
  const WeightsArgs down_args = internal::ArgsOf(down_t);
  for (std::size_t t0 = 0; t0 < n; t0 += kGroup) {
    const std::size_t tokens = n - t0 < kGroup ? n - t0 : kGroup;
    const float* xg = x + t0 * hidden;
    const float* hg = h + t0 * inner;
    const absl::Status up_launched =
        internal::DispatchFormat(up.format, [&](auto tag) -> absl::Status {
          const unsigned blocks =
              static_cast<unsigned>((inner + kWarpsPerBlock - 1) / kWarpsPerBlock);
          UpKernel<decltype(tag)::value>
              <<<blocks, kWarpsPerBlock * kWarp, 0, stream>>>(xg, hg, tokens, inner, up_args, a);
          GHOST_CUDA_RETURN_IF_LAUNCH_FAILED("SparseMlp UpKernel");
          return absl::OkStatus();
        });
    if (!up_launched.ok()) return up_launched;
    const absl::Status down_launched =
        internal::DispatchFormat(down_t.format, [&](auto tag) -> absl::Status {
          const dim3 grid(static_cast<unsigned>((hidden + kColumnThreads - 1) / kColumnThreads),
                          static_cast<unsigned>(chunks));
          DownKernel<decltype(tag)::value>
              <<<grid, kColumnThreads, 0, stream>>>(a, tokens, inner, down_args, partial);
          GHOST_CUDA_RETURN_IF_LAUNCH_FAILED("SparseMlp DownKernel");
          return absl::OkStatus();
        });
    if (!down_launched.ok()) return down_launched;
    SumChunksKernel<<<internal::GridFor(tokens * hidden), internal::kThreads, 0, stream>>>(
        partial, chunks, tokens * hidden, out + t0 * hidden);
    GHOST_CUDA_RETURN_IF_LAUNCH_FAILED("SparseMlp SumChunksKernel");
  }
  return absl::OkStatus();
}

}  // namespace ghost::kernels::cuda
