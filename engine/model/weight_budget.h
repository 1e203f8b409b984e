// Which weights stay resident under a weight budget (ModelOptions::weight_budget_bytes), and
// the layer streamer for the rest.
#ifndef GHOST_ENGINE_MODEL_WEIGHT_BUDGET_H_
#define GHOST_ENGINE_MODEL_WEIGHT_BUDGET_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/backend/backend.h"
#include "engine/backend/layer_streamer.h"
#include "engine/model/llama_weights.h"
#include "engine/model/model.h"

namespace ghost {

struct WeightPlan {
  // Decoder layers [0, resident_layers) stay resident; the others stream.
  std::size_t resident_layers = 0;
  // The resident unit and resident layers, then the slots' bytes (slots x the largest streamed
  // layer rounded up to `slot_alignment`), and the streamed layers' bytes.
  std::size_t resident_bytes = 0;
  std::size_t slot_bytes = 0;
  std::size_t streamed_bytes = 0;
};

// The plan for a budget of `budget` bytes (0: everything resident) with `slots` slots: every
// layer resident when the whole model fits, else as many leading layers as fit beside the
// resident unit and the slots. RESOURCE_EXHAUSTED naming the numbers when not even the resident
// unit and the slots of one streamed layer fit.
absl::StatusOr<WeightPlan> PlanWeights(std::size_t resident_unit_bytes,
                                       absl::Span<const std::size_t> layer_bytes,
                                       std::int64_t budget, int slots, std::size_t slot_alignment);

// The streamer for `weights`' layers from `first_streamed` on, once LoadLlamaWeights gave every
// layer to `builder` (their bytes are in its transport; the units keep their handles only).
absl::StatusOr<std::unique_ptr<LayerStreamer>> StartStreaming(LlamaWeights& weights,
                                                              std::size_t first_streamed,
                                                              LayerTransportBuilder& builder,
                                                              int slots);

// The layer file name of a model directory inside `options.layer_cache_dir` (or the default
// directory), and the identity of the directory's files (names, sizes, modification times).
std::string LayerCachePath(const ModelOptions& options, const std::string& model_directory);
std::string SourceIdentity(const std::string& model_directory);

}  // namespace ghost

#endif  // GHOST_ENGINE_MODEL_WEIGHT_BUDGET_H_
