// The small-batch product of matvec.h. Block = 8 warps = 8 weight rows; a warp's lanes walk the
// row's columns 32 apart (coalesced activation reads, and neighbouring lanes share code bytes),
// decode each weight once per token tile, and reduce with shuffles.
#include "absl/strings/str_cat.h"
#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/matvec.h"
#include "kernels/cuda/weight_decode.cuh"

namespace ghost::kernels::cuda {
namespace {

using internal::kWarp;
using internal::WeightsArgs;

constexpr int kRowsPerBlock = 8;

template <WeightFormat F>
__global__ void MatvecKernel(const float* x, std::size_t n, WeightsArgs w, float* y) {
  const std::size_t row = blockIdx.x * std::size_t{kRowsPerBlock} + threadIdx.x / kWarp;
  if (row >= w.rows) return;
  const int lane = threadIdx.x % kWarp;
  for (std::size_t t0 = 0; t0 < n; t0 += kMatvecTile) {
    const std::size_t tokens = n - t0 < kMatvecTile ? n - t0 : kMatvecTile;
    float acc[kMatvecTile];
#pragma unroll
    for (std::size_t t = 0; t < kMatvecTile; ++t) acc[t] = 0.0f;
    for (std::size_t c = lane; c < w.cols; c += kWarp) {
      const float weight = internal::WeightAt<F>(w, row, c);
      const float* xc = x + t0 * w.cols + c;
#pragma unroll
      for (std::size_t t = 0; t < kMatvecTile; ++t) {
        if (t < tokens) acc[t] += weight * xc[t * w.cols];
      }
    }
#pragma unroll
    for (std::size_t t = 0; t < kMatvecTile; ++t) {
      const float sum = internal::WarpSum(acc[t]);
      if (lane == 0 && t < tokens) y[(t0 + t) * w.rows + row] = sum;
    }
  }
}

}  // namespace

absl::Status Matvec(const float* x, std::size_t n, const DeviceWeights& w, float* y,
                    StreamHandle stream) {
  if (n > kMaxMatvecBatch) {
    return absl::InvalidArgumentError(
        absl::StrCat("Matvec takes at most ", kMaxMatvecBatch, " tokens, not ", n));
  }
  if (n == 0 || w.rows == 0) return absl::OkStatus();
  const WeightsArgs args = internal::ArgsOf(w);
  const unsigned blocks = static_cast<unsigned>((w.rows + kRowsPerBlock - 1) / kRowsPerBlock);
  return internal::DispatchFormat(w.format, [&](auto tag) -> absl::Status {
    MatvecKernel<decltype(tag)::value><<<blocks, kRowsPerBlock * kWarp, 0, stream>>>(x, n, args, y);
    GHOST_CUDA_RETURN_IF_LAUNCH_FAILED("MatvecKernel");
    return absl::OkStatus();
  });
}

}  // namespace ghost::kernels::cuda
