// A compressed linear layer as safetensors tensors (names and layout: quantization_config.h),
// both ways: the compressor writes them, the weight loader reads them back.
#ifndef GHOST_ENGINE_CHECKPOINT_QUANTIZED_TENSORS_H_
#define GHOST_ENGINE_CHECKPOINT_QUANTIZED_TENSORS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/checkpoint/quantization_config.h"
#include "engine/checkpoint/safetensors.h"
#include "engine/checkpoint/safetensors_writer.h"
#include "engine/compress/quantized_matrix.h"

namespace ghost {

// The tensors of `m` stored under `base` (X for X.qweight, ...). They point into m's arrays,
// which must outlive them.
std::vector<TensorToWrite> QuantizedTensorsToWrite(const std::string& base,
                                                   const compress::QuantizedMatrix& m);

// Finds a tensor by name across a model's files; nullptr when absent.
using TensorLookup = std::function<const TensorView*(const std::string& name)>;

// True when `base`.qweight exists.
bool HasQuantizedTensors(const TensorLookup& lookup, const std::string& base);

// Reads the compressed linear `base` of shape [rows, cols] in the layout `q` describes and
// validates it. INVALID_ARGUMENT starting with `where` (the model directory) that names the
// missing tensor or the one whose dtype or shape is wrong, or the invalid code bytes.
absl::StatusOr<compress::QuantizedMatrix> ReadQuantizedMatrix(const TensorLookup& lookup,
                                                              const std::string& where,
                                                              const std::string& base,
                                                              std::int64_t rows, std::int64_t cols,
                                                              const GhostQuantization& q);

}  // namespace ghost

#endif  // GHOST_ENGINE_CHECKPOINT_QUANTIZED_TENSORS_H_
