// The tensors of a Llama-family checkpoint (Hugging Face LlamaForCausalLM names, which Qwen2
// and Mistral share), shape-checked and placed in weight units of the model's backend: one unit
// per decoder layer, and one resident unit for the embedding, the final norm and the head.
#ifndef GHOST_ENGINE_MODEL_LLAMA_WEIGHTS_H_
#define GHOST_ENGINE_MODEL_LLAMA_WEIGHTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend/backend.h"
#include "engine/backend/layer_streamer.h"
#include "engine/backend/weight_matrix.h"
#include "engine/backend/weight_unit.h"
#include "engine/checkpoint/checkpoint.h"
#include "engine/model/config.h"

namespace ghost {

// One decoder layer. The handles point into `unit` (WeightUnit::matrix / vector), so that
// rebinding the unit moves the whole layer.
struct LlamaLayerWeights {
  std::unique_ptr<WeightUnit> unit;
  const WeightVector* input_norm = nullptr;  // [hidden]
  const WeightMatrix* q = nullptr;
  const WeightMatrix* k = nullptr;
  const WeightMatrix* v = nullptr;
  const WeightMatrix* o = nullptr;
  // nullptr unless the architecture has them (ModelConfig::qkv_bias, output_bias).
  const WeightVector* q_bias = nullptr;               // [num_heads * head_dim]
  const WeightVector* k_bias = nullptr;               // [num_kv_heads * head_dim]
  const WeightVector* v_bias = nullptr;               // [num_kv_heads * head_dim]
  const WeightVector* o_bias = nullptr;               // [hidden]
  const WeightVector* post_attention_norm = nullptr;  // [hidden]
  // gate and up are [inner, hidden]; down is [hidden, inner], or [inner, hidden] (one row per
  // neuron) when gated. inner is intermediate_size unless the compressor removed neurons.
  const WeightMatrix* gate = nullptr;
  const WeightMatrix* up = nullptr;
  const WeightMatrix* down = nullptr;
  std::size_t inner = 0;
  // Gated: the MLP runs sparse, only for neurons with |SiLU(gate)| > gate_threshold, and down
  // is stored one row per neuron.
  bool gated = false;
  float gate_threshold = 0.0f;
};

struct LlamaWeights {
  std::unique_ptr<WeightUnit> resident;        // the embedding, the final norm and the head
  const WeightMatrix* embed_tokens = nullptr;  // [vocab, hidden]
  const WeightVector* final_norm = nullptr;    // [hidden]
  const WeightMatrix* lm_head = nullptr;       // [vocab, hidden]; embed_tokens when tied
  std::vector<LlamaLayerWeights> layers;
  // As WeightLoader reports them.
  std::int64_t parameters = 0;
  std::int64_t weight_bytes = 0;
  std::string dominant_dtype;
};

// The bytes every unit of the model will take in `backend` (WeightUnit::bytes), exactly, from
// the checkpoint's headers and quantization config alone: no tensor data is read or packed.
// Errors as LoadLlamaWeights's for a missing or misshapen tensor.
struct LlamaUnitBytes {
  std::size_t resident = 0;         // the embedding, the final norm and the head
  std::vector<std::size_t> layers;  // per decoder layer
};
absl::StatusOr<LlamaUnitBytes> PlanLlamaUnits(const ModelConfig& config,
                                              const SafetensorsCheckpoint& checkpoint,
                                              Backend& backend);

// Loads the model layer by layer. With a `streaming` builder (made for a plan whose
// first_streamed is `first_streamed`), every decoder layer also goes to it in order: the
// resident ones are Added; from `first_streamed` on each is made by the builder, its bytes only
// in the transport, before the next is read, so that the load never holds more than one
// streamed layer. Errors name the file and the tensor, and the layer for a layer's tensor.
absl::StatusOr<LlamaWeights> LoadLlamaWeights(const ModelConfig& config,
                                              const SafetensorsCheckpoint& checkpoint,
                                              Backend& backend,
                                              LayerTransportBuilder* streaming = nullptr,
                                              std::size_t first_streamed = 0);

}  // namespace ghost

#endif  // GHOST_ENGINE_MODEL_LLAMA_WEIGHTS_H_
