// Turns safetensors tensors into the forms the forward pass uses, checking names and shapes:
// bf16, f16 and f32 matrices stay as stored (zero-copy when aligned), and vectors (norm weights)
// are always fp32.
// Owns every converted buffer.
#ifndef GHOST_ENGINE_BACKEND_WEIGHT_LOADER_H_
#define GHOST_ENGINE_BACKEND_WEIGHT_LOADER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/checkpoint/checkpoint.h"
#include "engine/checkpoint/safetensors.h"
#include "engine/backend/quantized_store.h"
#include "engine/backend/weight_matrix.h"

namespace ghost {

// The values of an F32, BF16 or F16 tensor as fp32 (its data may be unaligned). Other dtypes
// are the caller's to refuse.
std::vector<float> TensorToF32(const TensorView& tensor);

class WeightLoader {
 public:
  explicit WeightLoader(std::unique_ptr<SafetensorsCheckpoint> checkpoint)
      : checkpoint_(std::move(checkpoint)) {}

  // INVALID_ARGUMENT "<file>: missing tensor <name>" or a shape/dtype mismatch message naming
  // the file (the shard, in a sharded checkpoint) that holds the tensor.
  absl::StatusOr<WeightMatrix> Matrix(const std::string& name, std::int64_t rows,
                                      std::int64_t cols);
  absl::StatusOr<WeightVector> Vector(const std::string& name, std::int64_t size);
  // A compressed model's layout: Matrix() then reads X.qweight/X.qscale/... (quantized_store.h)
  // wherever they exist instead of X.weight. Not owned.
  void set_quantization(const GhostQuantization* quantization) { quantization_ = quantization; }
  // An I32 vector (kept_neurons); nullopt when absent, INVALID_ARGUMENT when not I32 [n].
  absl::StatusOr<std::optional<std::vector<std::int32_t>>> OptionalIndices(
      const std::string& name);

  std::int64_t parameters() const { return parameters_; }
  // Bytes held for the forward (bf16 and f16 2 per weight, f32 4).
  std::int64_t resident_bytes() const { return resident_bytes_; }
  // The stored format that holds most parameters: "bf16", "f16", "f32", or a quantized
  // format ("ternary-2bit", ...).
  std::string dominant_dtype() const;

 private:
  absl::StatusOr<const TensorView*> Find(const std::string& name,
                                         const std::vector<std::int64_t>& shape);
  const float* OwnFloats(std::vector<float> values);

  std::unique_ptr<SafetensorsCheckpoint> checkpoint_;
  const GhostQuantization* quantization_ = nullptr;
  QuantizedStore quantized_;
  std::vector<std::vector<float>> f32_buffers_;
  std::vector<std::vector<std::uint16_t>> half_buffers_;  // unaligned bf16 / f16, copied
  std::int64_t parameters_ = 0;
  std::int64_t resident_bytes_ = 0;
  std::map<std::string, std::int64_t> parameters_by_dtype_;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_WEIGHT_LOADER_H_
