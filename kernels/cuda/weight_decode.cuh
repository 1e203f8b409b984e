// Device-side decoding of one weight of a DeviceWeights (device_weights.h), shared by every
// kernel that reads weights. Internal to kernels/cuda.
#ifndef GHOST_KERNELS_CUDA_WEIGHT_DECODE_CUH_
#define GHOST_KERNELS_CUDA_WEIGHT_DECODE_CUH_

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kernels/cuda/device_weights.h"

namespace ghost::kernels::cuda::internal {

// The fields a kernel needs, passed by value to kernels (DeviceWeights' methods are host-only).
struct WeightsArgs {
  WeightFormat format;
  std::size_t rows, cols;
  const void* data;
  std::size_t block_size, blocks_per_row, code_bytes_per_row, block_bytes;
  const std::uint16_t* scales;
  const std::uint16_t* codebook;
  std::size_t codebook_group_rows;
};

inline WeightsArgs ArgsOf(const DeviceWeights& w) {
  WeightsArgs a{w.format, w.rows, w.cols,   w.data,     w.block_size,         0,
                0,        0,      w.scales, w.codebook, w.codebook_group_rows};
  if (IsBlockQuantized(w.format)) {
    a.blocks_per_row = w.blocks_per_row();
    a.code_bytes_per_row = w.code_bytes_per_row();
    a.block_bytes = BytesPerBlock(w.format, w.block_size);
  }
  return a;
}

__device__ __forceinline__ float Bf16BitsToFloat(std::uint16_t bits) {
  return __uint_as_float(static_cast<unsigned>(bits) << 16);
}

__device__ __forceinline__ float F16BitsToFloat(std::uint16_t bits) {
  return __half2float(__ushort_as_half(bits));
}

// Weight (r, c), c < cols, of a matrix of format F (a template argument, so that the inner loops
// carry no format switch).
template <WeightFormat F>
__device__ __forceinline__ float WeightAt(const WeightsArgs& w, std::size_t r, std::size_t c) {
  if constexpr (F == WeightFormat::kF32) {
    return static_cast<const float*>(w.data)[r * w.cols + c];
  } else if constexpr (F == WeightFormat::kBF16) {
    return Bf16BitsToFloat(static_cast<const std::uint16_t*>(w.data)[r * w.cols + c]);
  } else if constexpr (F == WeightFormat::kF16) {
    return F16BitsToFloat(static_cast<const std::uint16_t*>(w.data)[r * w.cols + c]);
  } else {
    const std::size_t block = c / w.block_size;
    const std::size_t j = c - block * w.block_size;
    const std::uint8_t* codes =
        static_cast<const std::uint8_t*>(w.data) + r * w.code_bytes_per_row + block * w.block_bytes;
    const float scale = F16BitsToFloat(w.scales[r * w.blocks_per_row + block]);
    if constexpr (F == WeightFormat::kTernaryBase3) {
      // Digit j % 5 of byte j / 5, stored as code + 1.
      unsigned byte = codes[j / 5];
      for (std::size_t i = j % 5; i > 0; --i) byte /= 3;
      return scale * static_cast<float>(static_cast<int>(byte % 3) - 1);
    } else {
      const unsigned stored = (codes[j / 4] >> (2 * (j % 4))) & 3u;
      if constexpr (F == WeightFormat::kTernary2Bit) {
        return scale * static_cast<float>(static_cast<int>(stored) - 1);
      } else {
        const std::uint16_t* entries = w.codebook + 4 * (r / w.codebook_group_rows);
        return scale * F16BitsToFloat(entries[stored]);
      }
    }
  }
}

// Calls body(FormatTag<F>{}) with F = format: the one switch from a run-time format to the
// template kernels (in body, `decltype(tag)::value` is the format as a constant).
template <WeightFormat F>
using FormatTag = std::integral_constant<WeightFormat, F>;

template <typename Body>
auto DispatchFormat(WeightFormat format, Body&& body) {
  switch (format) {
    case WeightFormat::kF32:
      return body(FormatTag<WeightFormat::kF32>{});
    case WeightFormat::kBF16:
      return body(FormatTag<WeightFormat::kBF16>{});
    case WeightFormat::kF16:
      return body(FormatTag<WeightFormat::kF16>{});
    case WeightFormat::kTernary2Bit:
      return body(FormatTag<WeightFormat::kTernary2Bit>{});
    case WeightFormat::kTernaryBase3:
      return body(FormatTag<WeightFormat::kTernaryBase3>{});
    case WeightFormat::kCodebook2Bit:
      break;
  }
  return body(FormatTag<WeightFormat::kCodebook2Bit>{});
}

}  // namespace ghost::kernels::cuda::internal

#endif  // GHOST_KERNELS_CUDA_WEIGHT_DECODE_CUH_
