// config.json's "quantization_config" for models written by the ghost compressor
// (quant_method "ghost"), and the names of a compressed linear layer's tensors.
//
// A compressed linear whose dense weight would be `X.weight` is stored as
//   X.qweight     U8  [rows, code bytes per row]   packed codes (engine/formats/packing.h)
//   X.qscale      F16 [rows, scales per row]       block scales, or super-block scales
//   X.qsubscale   U8  [rows, sub-scale bytes/row]  two-level scheme only
//   X.qcodebook   F16 [row groups, 4]              codebook-2bit format only
// and an MLP whose dead neurons were removed has `model.layers.N.mlp.kept_neurons` (I32 [k]),
// the original indices of the k neurons left; its gate/up have k rows and down k columns.
// With gates, down_proj is stored transposed ([k, hidden], one row per neuron) so the sparse
// MLP reads only the rows of active neurons.
#ifndef GHOST_ENGINE_CHECKPOINT_QUANTIZATION_CONFIG_H_
#define GHOST_ENGINE_CHECKPOINT_QUANTIZATION_CONFIG_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/compress/scales.h"
#include "engine/formats/weight_format.h"
#include "nlohmann/json.hpp"

namespace ghost {

struct GhostQuantization {
  // The compressor recipe that wrote the model ("ternary", "ternary-2level", "codebook4", ...:
  // a weight format with a scale layout, compressor/model_compressor.h), kept for reports.
  // Loading reads `format` and the fields below, never this; JSON key "scheme".
  std::string scheme;
  WeightFormat format = WeightFormat::kTernary2Bit;  // block-quantized; JSON key "format"
  std::size_t block_size = 64;
  compress::ScaleScheme scale_scheme = compress::ScaleScheme::kF16PerBlock;
  int sub_scale_bits = 0;               // two-level only
  std::size_t codebook_group_rows = 0;  // codebook only
  // Per layer: the MLP gate keeps neuron j only where |SiLU(gate_j)| > threshold. Empty: no
  // gates. Present => down_proj is stored transposed.
  std::vector<float> gate_thresholds;

  bool gated() const { return !gate_thresholds.empty(); }
  nlohmann::json ToJson() const;
};

// Reads quantization_config from a parsed config.json: nullopt when absent;
// UNIMPLEMENTED for another quant_method (naming it); INVALID_ARGUMENT (starting with
// `file_name`) for bad fields. `num_layers` sizes gate_thresholds.
absl::StatusOr<std::optional<GhostQuantization>> ParseQuantizationConfig(
    const nlohmann::json& config, int num_layers, const std::string& file_name);

// "X.weight" -> "X" (names without the suffix are returned unchanged).
std::string LinearBaseName(const std::string& weight_name);

}  // namespace ghost

#endif  // GHOST_ENGINE_CHECKPOINT_QUANTIZATION_CONFIG_H_
