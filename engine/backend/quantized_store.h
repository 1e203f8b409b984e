// Compressed linear layers prepared for the low-bit kernels, owned for a model's lifetime.
#ifndef GHOST_ENGINE_BACKEND_QUANTIZED_STORE_H_
#define GHOST_ENGINE_BACKEND_QUANTIZED_STORE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/checkpoint/quantization_config.h"
#include "engine/checkpoint/quantized_tensors.h"
#include "engine/backend/weight_matrix.h"

namespace ghost {

class QuantizedStore {
 public:
  QuantizedStore();
  ~QuantizedStore();

  // Reads the compressed linear stored for `weight_name` (X.weight -> X.qweight, ...) with
  // shape [rows, cols] and returns a kQuant matrix that points into this store. Two-level
  // scales are expanded to one fp16 scale per block (the kernels' layout), which rounds each
  // block scale to fp16. Errors as ReadQuantizedMatrix.
  absl::StatusOr<WeightMatrix> Load(const TensorLookup& lookup, const std::string& where,
                                    const std::string& weight_name, std::int64_t rows,
                                    std::int64_t cols, const GhostQuantization& q);
  // Bytes the kernels read for all matrices held.
  std::int64_t bytes() const { return bytes_; }

 private:
  struct Matrices;  // the kernels' prepared matrices, at stable addresses
  std::unique_ptr<Matrices> matrices_;
  std::int64_t bytes_ = 0;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_QUANTIZED_STORE_H_
