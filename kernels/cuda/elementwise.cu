// The element-wise kernels of elementwise.h: grid-stride loops, one block per row for the norms.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/weight_decode.cuh"

namespace ghost::kernels::cuda {
namespace {

using internal::BlockSum;
using internal::GridFor;
using internal::kThreads;
using internal::WeightsArgs;

template <WeightFormat F>
__global__ void EmbedKernel(WeightsArgs table, const std::int32_t* tokens, std::size_t n,
                            float* out) {
  for (std::size_t t = blockIdx.x; t < n; t += gridDim.x) {
    const std::size_t row = static_cast<std::size_t>(tokens[t]);
    for (std::size_t c = threadIdx.x; c < table.cols; c += blockDim.x) {
      out[t * table.cols + c] = internal::WeightAt<F>(table, row, c);
    }
  }
}

// One block per row. kAdd: x[r] += residual[r] first (written back).
template <bool kAdd>
__global__ void RmsNormKernel(float* x, const float* residual, const std::int32_t* rows,
                              std::size_t n, std::size_t dim, const float* weight, float eps,
                              float* out) {
  __shared__ float scratch[32];
  for (std::size_t i = blockIdx.x; i < n; i += gridDim.x) {
    const std::size_t r = rows != nullptr ? static_cast<std::size_t>(rows[i]) : i;
    float* row = x + r * dim;
    float squares = 0.0f;
    for (std::size_t c = threadIdx.x; c < dim; c += blockDim.x) {
      float v = row[c];
      if constexpr (kAdd) {
        v += residual[r * dim + c];
        row[c] = v;
      }
      squares += v * v;
    }
    const float sum = BlockSum(squares, scratch);
    // In double, as the CPU kernel and the float64 reference do.
    const float scale = static_cast<float>(1.0 / sqrt(static_cast<double>(sum) / dim + eps));
    for (std::size_t c = threadIdx.x; c < dim; c += blockDim.x) {
      out[i * dim + c] = row[c] * scale * weight[c];
    }
  }
}

__global__ void AddBiasKernel(float* y, const float* bias, std::size_t count, std::size_t cols) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < count;
       i += std::size_t{gridDim.x} * blockDim.x) {
    y[i] += bias[i % cols];
  }
}

__device__ __forceinline__ float Silu(float g) { return g / (1.0f + expf(-g)); }

__global__ void SiluMulKernel(float* gate, const float* up, std::size_t count) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < count;
       i += std::size_t{gridDim.x} * blockDim.x) {
    gate[i] = Silu(gate[i]) * up[i];
  }
}

__global__ void SiluGateKernel(float* gate, std::size_t count, float threshold,
                               unsigned long long* kept_count) {
  __shared__ float scratch[32];
  float kept = 0.0f;  // per thread, exact: far below 2^24
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < count;
       i += std::size_t{gridDim.x} * blockDim.x) {
    const float s = Silu(gate[i]);
    const bool keep = fabsf(s) > threshold;
    gate[i] = keep ? s : 0.0f;
    kept += keep ? 1.0f : 0.0f;
  }
  const float block_kept = BlockSum(kept, scratch);
  if (threadIdx.x == 0 && block_kept > 0.0f) {
    atomicAdd(kept_count, static_cast<unsigned long long>(block_kept));
  }
}

__global__ void MultiplyKernel(float* a, const float* b, std::size_t count) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < count;
       i += std::size_t{gridDim.x} * blockDim.x) {
    a[i] *= b[i];
  }
}

__global__ void ToBf16Kernel(const float* in, std::size_t count, std::uint16_t* out) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < count;
       i += std::size_t{gridDim.x} * blockDim.x) {
    out[i] = __bfloat16_as_ushort(__float2bfloat16_rn(in[i]));
  }
}

__global__ void ToF16Kernel(const float* in, std::size_t count, std::uint16_t* out) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < count;
       i += std::size_t{gridDim.x} * blockDim.x) {
    out[i] = __half_as_ushort(__float2half_rn(in[i]));
  }
}

unsigned RowBlocks(std::size_t n) {
  return static_cast<unsigned>(n == 0 ? 1 : (n < 65535 ? n : 65535));
}

}  // namespace

absl::Status Embed(const DeviceWeights& table, const std::int32_t* tokens, std::size_t n,
                   float* out, StreamHandle stream) {
  if (n == 0) return absl::OkStatus();
  const WeightsArgs args = internal::ArgsOf(table);
  return internal::DispatchFormat(table.format, [&](auto tag) -> absl::Status {
    EmbedKernel<decltype(tag)::value><<<RowBlocks(n), kThreads, 0, stream>>>(args, tokens, n, out);
    GHOST_CUDA_RETURN_IF_LAUNCH_FAILED("EmbedKernel");
    return absl::OkStatus();
  });
}

absl::Status RmsNorm(const float* x, const std::int32_t* rows, std::size_t n, std::size_t dim,
                     const float* weight, float eps, float* out, StreamHandle stream) {
  if (n == 0) return absl::OkStatus();
  // x is only read without the add.
  RmsNormKernel<false><<<RowBlocks(n), kThreads, 0, stream>>>(const_cast<float*>(x), nullptr, rows,
                                                              n, dim, weight, eps, out);
  GHOST_CUDA_RETURN_IF_LAUNCH_FAILED("RmsNormKernel");
  return absl::OkStatus();
}

absl::Status AddRmsNorm(float* x, const float* residual, const std::int32_t* rows, std::size_t n,
                        std::size_t dim, const float* weight, float eps, float* out,
                        StreamHandle stream) {
  if (n == 0) return absl::OkStatus();
  RmsNormKernel<true>
      <<<RowBlocks(n), kThreads, 0, stream>>>(x, residual, rows, n, dim, weight, eps, out);
  GHOST_CUDA_RETURN_IF_LAUNCH_FAILED("AddRmsNormKernel");
  return absl::OkStatus();
}

absl::Status AddBias(float* y, const float* bias, std::size_t n, std::size_t cols,
                     StreamHandle stream) {
  if (n * cols == 0) return absl::OkStatus();
  AddBiasKernel<<<GridFor(n * cols), kThreads, 0, stream>>>(y, bias, n * cols, cols);
  GHOST_CUDA_RETURN_IF_LAUNCH_FAILED("AddBiasKernel");
  return absl::OkStatus();
}

absl::Status SiluMul(float* gate, const float* up, std::size_t count, StreamHandle stream) {
  if (count == 0) return absl::OkStatus();
  SiluMulKernel<<<GridFor(count), kThreads, 0, stream>>>(gate, up, count);
  GHOST_CUDA_RETURN_IF_LAUNCH_FAILED("SiluMulKernel");
  return absl::OkStatus();
}

absl::Status SiluGate(float* gate, std::size_t count, float threshold,
                      unsigned long long* kept_count, StreamHandle stream) {
  if (count == 0) return absl::OkStatus();
  SiluGateKernel<<<GridFor(count), kThreads, 0, stream>>>(gate, count, threshold, kept_count);
  GHOST_CUDA_RETURN_IF_LAUNCH_FAILED("SiluGateKernel");
  return absl::OkStatus();
}

absl::Status Multiply(float* a, const float* b, std::size_t count, StreamHandle stream) {
  if (count == 0) return absl::OkStatus();
  MultiplyKernel<<<GridFor(count), kThreads, 0, stream>>>(a, b, count);
  GHOST_CUDA_RETURN_IF_LAUNCH_FAILED("MultiplyKernel");
  return absl::OkStatus();
}

absl::Status ConvertToBf16(const float* in, std::size_t count, std::uint16_t* out,
                           StreamHandle stream) {
  if (count == 0) return absl::OkStatus();
  ToBf16Kernel<<<GridFor(count), kThreads, 0, stream>>>(in, count, out);
  GHOST_CUDA_RETURN_IF_LAUNCH_FAILED("ToBf16Kernel");
  return absl::OkStatus();
}

absl::Status ConvertToF16(const float* in, std::size_t count, std::uint16_t* out,
                          StreamHandle stream) {
  if (count == 0) return absl::OkStatus();
  ToF16Kernel<<<GridFor(count), kThreads, 0, stream>>>(in, count, out);
  GHOST_CUDA_RETURN_IF_LAUNCH_FAILED("ToF16Kernel");
  return absl::OkStatus();
}

}  // namespace ghost::kernels::cuda
