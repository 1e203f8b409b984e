// Compressing a whole model directory: profile MLP activations on calibration text, remove
// dead neurons, calibrate gate thresholds, quantize every linear layer, measure quality and
// write a new HF-style directory (DESIGN.md "Formats"). The compression job service runs this
// on its worker pool; ghostbench compress reports its figures.
#ifndef GHOST_ENGINE_COMPRESSOR_MODEL_COMPRESSOR_H_
#define GHOST_ENGINE_COMPRESSOR_MODEL_COMPRESSOR_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/checkpoint/quantization_config.h"
#include "nlohmann/json_fwd.hpp"

namespace ghost::compress {

struct CompressJobSpec {
  std::string source_dir;  // a model directory Model::Load accepts (not itself compressed)
  // Must not exist. Written into PartialOutputDir(output_dir, owner), fsynced, then renamed
  // here without replacing anything: it appears whole or not at all, and a directory someone
  // else put at this path meanwhile stays as it is (the job fails with ALREADY_EXISTS).
  std::string output_dir;
  // Who the output belongs to (the job id): 1-64 letters, digits, '_' or '-'. The ownership
  // marker (engine/common/owned_directory.h) of the partial directory holds it and moves with
  // it into the output directory, so crash recovery removes only what this job made. Empty: a
  // random token.
  std::string owner;
  std::string scheme = "ternary";  // one of CompressSchemes()
  int block_size = 64;             // 16, 32, 64, 128 or 256
  bool remove_dead_neurons = false;
  // A neuron is dead when max |SiLU(gate) * up| over the calibration tokens is at most this
  // fraction of its layer's most active neuron's.
  float dead_neuron_tolerance = 1e-3f;
  float target_sparsity = 0.0f;  // MLP gate target in [0, 1); 0 disables gating
  std::string calibration_text;  // 1 to kMaxCalibrationTextBytes bytes
  // Held-out text for bits per byte before and after (at most kMaxCalibrationTextBytes); empty
  // uses calibration_text.
  std::string evaluation_text;
  // "safetensors" (the default; "" means it) or "gguf": the output directory then also holds
  // model.gguf for llama.cpp (gguf_export.h), which needs a scheme and block size with a ggml
  // type (ternary or ternary-2level at block 64 or 256, ternary-base3 at 256), no gates, and
  // the same number of kept neurons in every layer (else the job fails saying so).
  std::string output_format;
};

// The file a "gguf" job writes beside the safetensors.
inline constexpr char kGgufOutputFile[] = "model.gguf";

// The most calibration (and evaluation) text a job takes: 256 KiB. Profiling uses at most 64 Ki
// tokens of it; evaluation runs over all of it twice, which takes minutes on two cores at this
// size.
inline constexpr std::size_t kMaxCalibrationTextBytes = 256 * 1024;

// The compression schemes, each a weight format (engine/formats) with a scale layout:
// "ternary" (ternary-2bit, fp16 block scales), "ternary-base3" (ternary-base3, 1.6-bit codes),
// "ternary-2level" (ternary-2bit, fp16 super-block scales + 4-bit sub-scales), "codebook4"
// (codebook-2bit: 2-bit codes into a 4-entry codebook per row, fp16 block scales).
const std::vector<std::string>& CompressSchemes();

// The stored layout of `scheme` (one of CompressSchemes()) at `block_size`, without gates.
GhostQuantization QuantizationForScheme(const std::string& scheme, int block_size);

// Checks the spec alone, without touching files: INVALID_ARGUMENT naming the bad field and
// the accepted values.
[[nodiscard]] absl::Status ValidateCompressSpec(const CompressJobSpec& spec);

// Whether a model's parsed config.json marks it as compressed already (any quantization_config):
// its weights are codes, not floats to quantize again.
bool IsCompressedConfig(const nlohmann::json& config);

// The quality report (CompressReport::ToJson) in the output directory.
inline constexpr char kQualityReportFile[] = "ghost_quality_report.json";

// Where the output of `owner` is assembled before the rename: "<output_dir>.<owner>.partial",
// one per job, so jobs of two servers sharing a model root never write into the same one. A
// crash leaves only this behind, and CompressModelDirectory (or whoever recovers) removes it.
std::string PartialOutputDir(const std::string& output_dir, const std::string& owner);

struct CompressProgress {
  std::string phase;  // "profiling", "quantizing", "writing", "evaluating"
  // Layers of the phase done so far, out of the model's num_layers, in the phases that go layer
  // by layer ("quantizing"); both 0 in the others, which run every layer per chunk of text.
  int layer = 0;
  int num_layers = 0;
  float percent = 0;  // of the whole job, 0..100
};

struct TensorQuality {
  std::string tensor;  // e.g. "model.layers.0.mlp.down_proj.weight"
  double cosine = 0;   // between the original and the reconstructed weights
  double mse = 0;
};

struct CompressReport {
  std::string scheme;
  int block_size = 0;
  double bits_per_weight = 0;    // over the compressed linear layers, scales included
  double compression_ratio = 0;  // source bytes / output bytes of all weights
  double bits_per_byte_before = 0;
  double bits_per_byte_after = 0;
  double removed_neuron_fraction = 0;  // of all MLP neurons
  double activation_sparsity = 0;      // measured on the evaluation text with the gates
  std::vector<float> gate_thresholds;  // per layer; empty without gating
  std::vector<TensorQuality> tensors;

  std::string ToJson() const;  // the quality report written beside the model
};

using CompressProgressFn = std::function<void(const CompressProgress&)>;

// Runs the job on the calling thread (matrix work spreads over the default thread pool).
// `progress` is called from this thread between steps, at least once per chunk of work.
// CANCELLED once `cancel` becomes true, which is checked before every tensor and every chunk
// of tokens profiled or evaluated (chunked_evaluation.h: ~100 ms of work). On any error the
// output directory does not exist and the partial one has been removed. ALREADY_EXISTS when
// output_dir exists (at the start, or when the job is done and claims the name);
// FAILED_PRECONDITION for a source that is already compressed; errors of Model::Load for the
// source. Bits per byte is measured for byte-level models only (0 in the report otherwise).
absl::StatusOr<CompressReport> CompressModelDirectory(const CompressJobSpec& spec,
                                                      const CompressProgressFn& progress,
                                                      const std::atomic<bool>& cancel);

}  // namespace ghost::compress

#endif  // GHOST_ENGINE_COMPRESSOR_MODEL_COMPRESSOR_H_
