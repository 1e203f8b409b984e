// The tensors of a compressed model as they are produced, and writing its directory: the
// quantized linears, kept-neuron lists, and every other source tensor copied unchanged
// (embeddings, norms, biases, an untied lm_head).
#ifndef GHOST_ENGINE_COMPRESSOR_COMPRESSED_OUTPUT_H_
#define GHOST_ENGINE_COMPRESSOR_COMPRESSED_OUTPUT_H_

#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/checkpoint/checkpoint.h"
#include "engine/compress/quantize.h"
#include "engine/compressor/model_compressor.h"

namespace ghost::compress {

// Which part of a source matrix [rows, cols] is quantized. With indices (neurons kept), only
// those rows (or, with select_columns, those columns) are taken; transpose then stores the
// result transposed (a gated down_proj: one row per neuron).
struct LinearSelection {
  absl::Span<const std::int32_t> indices;
  bool select_columns = false;
  bool transpose = false;
};

class CompressedOutput {
 public:
  explicit CompressedOutput(const SafetensorsCheckpoint& source) : source_(source) {}

  // Quantizes the source tensor `weight_name` (X.weight) as selected and keeps it as X.q*.
  absl::StatusOr<TensorQuality> AddQuantized(const std::string& weight_name,
                                             const LinearSelection& selection,
                                             absl::Span<const float> column_importance,
                                             const QuantizeOptions& options);
  void AddKeptNeurons(const std::string& name, std::vector<std::int32_t> kept);

  // Writes model.safetensors (the tensors added plus every other source tensor), config.json
  // (`config_json`) and the tokenizer and generation files of `source_dir` into `out_dir`,
  // each fsynced.
  [[nodiscard]] absl::Status Write(const std::string& source_dir, const std::string& out_dir,
                                   const std::string& config_json) const;

  // Over the quantized matrices: stored bits per weight, scales included.
  double bits_per_weight() const;
  // Bytes of every weight tensor in the source over those written. Valid after Write().
  double compression_ratio() const { return compression_ratio_; }

 private:
  const SafetensorsCheckpoint& source_;
  std::deque<QuantizedMatrix> matrices_;  // stable addresses: the tensors point into them
  std::vector<std::pair<std::string, const QuantizedMatrix*>> quantized_;  // base name -> matrix
  std::deque<std::vector<std::int32_t>> kept_;
  std::vector<std::string> kept_names_;
  std::set<std::string> replaced_;  // source tensors not copied
  mutable double compression_ratio_ = 0;
};

}  // namespace ghost::compress

#endif  // GHOST_ENGINE_COMPRESSOR_COMPRESSED_OUTPUT_H_
