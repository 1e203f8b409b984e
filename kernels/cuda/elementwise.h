// The element-wise pieces of a transformer layer on fp32 rows in device memory, as plain C++
// launchers that issue work on a stream and return at once. The semantics are those of the CPU
// kernels (kernels/cpu/elementwise.h); each returns the launch's error as a Status (a fault
// while the kernel runs surfaces at the stream's next synchronization).
#ifndef GHOST_KERNELS_CUDA_ELEMENTWISE_H_
#define GHOST_KERNELS_CUDA_ELEMENTWISE_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "kernels/cuda/cuda_memory.h"
#include "kernels/cuda/device_weights.h"

namespace ghost::kernels::cuda {

// out [n, table.cols] row t = row tokens[t] of `table` as fp32 (any format). tokens: n device
// int32 values, each < table.rows.
absl::Status Embed(const DeviceWeights& table, const std::int32_t* tokens, std::size_t n,
                   float* out, StreamHandle stream);

// For i < n, with r = rows ? rows[i] : i (rows: n device int32 indices, or nullptr):
//   RmsNorm:    out[i] = x[r] / sqrt(mean(x[r]^2) + eps) * weight
//   AddRmsNorm: x[r] += residual[r], then out[i] = RmsNorm(x[r]) * weight
// x, residual: rows of `dim` floats; out: n rows; weight: dim floats.
absl::Status RmsNorm(const float* x, const std::int32_t* rows, std::size_t n, std::size_t dim,
                     const float* weight, float eps, float* out, StreamHandle stream);
absl::Status AddRmsNorm(float* x, const float* residual, const std::int32_t* rows, std::size_t n,
                        std::size_t dim, const float* weight, float eps, float* out,
                        StreamHandle stream);

// y[t, c] += bias[c] for n rows of `cols`.
absl::Status AddBias(float* y, const float* bias, std::size_t n, std::size_t cols,
                     StreamHandle stream);
// gate[i] = silu(gate[i]) * up[i].
absl::Status SiluMul(float* gate, const float* up, std::size_t count, StreamHandle stream);
// gate[i] = silu(gate[i]), zeroed where |silu| <= threshold; adds the number kept to
// *kept_count (a device counter the caller zeroes).
absl::Status SiluGate(float* gate, std::size_t count, float threshold,
                      unsigned long long* kept_count, StreamHandle stream);
// a[i] *= b[i].
absl::Status Multiply(float* a, const float* b, std::size_t count, StreamHandle stream);
// out[i] = in[i] rounded to nearest even bf16 / fp16 (bits), the inputs of the cuBLAS products.
absl::Status ConvertToBf16(const float* in, std::size_t count, std::uint16_t* out,
                           StreamHandle stream);
absl::Status ConvertToF16(const float* in, std::size_t count, std::uint16_t* out,
                          StreamHandle stream);

}  // namespace ghost::kernels::cuda

#endif  // GHOST_KERNELS_CUDA_ELEMENTWISE_H_
