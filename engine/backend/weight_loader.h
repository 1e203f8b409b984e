// Reads a checkpoint's tensors into weight units (weight_unit.h) of a backend, checking names
// and shapes: dense matrices keep their stored precision (bf16, f16, f32), vectors (norm
// weights, biases) become fp32, and a compressed model's linears come from their q-tensors
// (quantized_tensors.h). Units hold copies of everything, so the checkpoint (and its mapping)
// is needed only while loading. A sizing pass gives every unit's bytes from the headers alone,
// before any tensor is read (a load under a weight budget plans with them).
#ifndef GHOST_ENGINE_BACKEND_WEIGHT_LOADER_H_
#define GHOST_ENGINE_BACKEND_WEIGHT_LOADER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend/backend.h"
#include "engine/backend/weight_unit.h"
#include "engine/checkpoint/checkpoint.h"
#include "engine/checkpoint/quantization_config.h"
#include "engine/checkpoint/safetensors.h"

namespace ghost {

// The values of an F32, BF16 or F16 tensor as fp32 (its data may be unaligned). Other dtypes
// are the caller's to refuse.
std::vector<float> TensorToF32(const TensorView& tensor);

class WeightLoader {
 public:
  // Reads `checkpoint` into units of `backend`; both must outlive the loader.
  WeightLoader(const SafetensorsCheckpoint& checkpoint, Backend& backend)
      : checkpoint_(checkpoint), backend_(backend) {}

  // Adds the matrix `name` [rows, cols] (or, in a compressed model, its q-tensors) to the unit
  // being gathered and returns its index there (WeightUnit::matrix). INVALID_ARGUMENT
  // "<file>: missing tensor <name>" or a shape/dtype mismatch message naming the file (the
  // shard, in a sharded checkpoint) that holds the tensor.
  absl::StatusOr<std::size_t> Matrix(const std::string& name, std::int64_t rows, std::int64_t cols);
  // The same for a vector of `size` values (WeightUnit::vector).
  absl::StatusOr<std::size_t> Vector(const std::string& name, std::int64_t size);
  // The tensors gathered since the last call, as one unit of the backend's; the next Matrix or
  // Vector starts a new unit. FAILED_PRECONDITION while sizing.
  absl::StatusOr<std::unique_ptr<WeightUnit>> MakeUnit();
  // The same for streamed layer `layer` of a transport being built: the unit's bytes go only
  // to `builder` (LayerTransportBuilder::MakeStreamedUnit); the unit keeps its handles.
  absl::StatusOr<std::unique_ptr<WeightUnit>> MakeStreamedUnit(LayerTransportBuilder& builder,
                                                               std::size_t layer);

  // Sizing: Matrix and Vector check names, shapes and dtypes against the checkpoint's headers
  // (and a compressed linear's presence) but read no tensor data and count no parameters;
  // UnitBytes then gives the bytes the gathered tensors will take as a unit.
  void set_sizing(bool sizing) { sizing_ = sizing; }
  // The bytes (WeightUnit::bytes) the tensors gathered since the last call will take as one
  // unit of the backend's (Backend::UnitBytes), exactly; the next Matrix or Vector starts a new
  // unit.
  std::size_t UnitBytes();

  // A compressed model's layout: Matrix() then reads X.qweight/X.qscale/... wherever they exist
  // instead of X.weight. Not owned.
  void set_quantization(const GhostQuantization* quantization) { quantization_ = quantization; }
  // An I32 vector (kept_neurons); nullopt when absent, INVALID_ARGUMENT when not I32 [n].
  absl::StatusOr<std::optional<std::vector<std::int32_t>>> OptionalIndices(const std::string& name);

  std::int64_t parameters() const { return parameters_; }
  // Bytes the forward reads from the units made so far (bf16 and f16 2 per weight, f32 4,
  // low-bit codes with their scales and codebooks), padding not counted.
  std::int64_t resident_bytes() const { return resident_bytes_; }
  // The stored format that holds most parameters: "bf16", "f16", "f32", or a quantized
  // format ("ternary-2bit", ...).
  std::string dominant_dtype() const;

 private:
  absl::StatusOr<const TensorView*> Find(const std::string& name,
                                         const std::vector<std::int64_t>& shape);
  void CountParameters(const std::string& dtype, std::int64_t count);
  // The gathered sources (not while sizing), leaving none.
  std::vector<UnitTensorSource> TakePending();

  const SafetensorsCheckpoint& checkpoint_;
  Backend& backend_;
  const GhostQuantization* quantization_ = nullptr;
  bool sizing_ = false;
  // The unit being gathered: its tensors' shapes, and (not while sizing) the tensors.
  std::vector<UnitTensorShape> pending_shapes_;
  std::vector<UnitTensorSource> pending_;
  std::int64_t parameters_ = 0;
  std::int64_t resident_bytes_ = 0;
  std::map<std::string, std::int64_t> parameters_by_dtype_;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_WEIGHT_LOADER_H_
