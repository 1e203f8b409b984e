// A weight matrix in device memory as the CUDA kernels read it, for every format of the weight
// format table (engine/formats/weight_format.h). The device layout is the stored one
// (compress/quantized_matrix.h, bit layout in formats/packing.h), copied as is: codes row after
// row, one fp16 scale per block, 4 fp16 codebook entries per group of rows. Plain C++.
#ifndef GHOST_KERNELS_CUDA_DEVICE_WEIGHTS_H_
#define GHOST_KERNELS_CUDA_DEVICE_WEIGHTS_H_

#include <cstddef>
#include <cstdint>

#include "engine/formats/weight_format.h"

namespace ghost::kernels::cuda {

struct DeviceWeights {
  WeightFormat format = WeightFormat::kF32;
  std::size_t rows = 0;
  std::size_t cols = 0;
  // Dense formats: rows * cols values (float, or bf16 / fp16 bits). Block-quantized: the codes,
  // rows * BytesPerRow(format, cols, block_size) bytes.
  const void* data = nullptr;
  // Block-quantized only.
  std::size_t block_size = 0;
  const std::uint16_t* scales = nullptr;    // rows * ceil(cols / block_size), fp16 bits
  const std::uint16_t* codebook = nullptr;  // codebook format: 4 per group of rows, fp16 bits
  std::size_t codebook_group_rows = 0;

  std::size_t blocks_per_row() const { return (cols + block_size - 1) / block_size; }
  std::size_t code_bytes_per_row() const { return BytesPerRow(format, cols, block_size); }
};

}  // namespace ghost::kernels::cuda

#endif  // GHOST_KERNELS_CUDA_DEVICE_WEIGHTS_H_
