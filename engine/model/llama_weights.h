// The tensors of a Llama-family checkpoint (Hugging Face LlamaForCausalLM names, which Qwen2
// and Mistral share), shape-checked.
#ifndef GHOST_ENGINE_MODEL_LLAMA_WEIGHTS_H_
#define GHOST_ENGINE_MODEL_LLAMA_WEIGHTS_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/config.h"
#include "engine/checkpoint/checkpoint.h"
#include "engine/backend/weight_loader.h"
#include "engine/backend/weight_matrix.h"

namespace ghost {

struct LlamaLayerWeights {
  WeightVector input_norm;  // [hidden]
  WeightMatrix q, k, v, o;
  // Empty (data == nullptr) unless the architecture has them (ModelConfig::qkv_bias,
  // output_bias).
  WeightVector q_bias;               // [num_heads * head_dim]
  WeightVector k_bias;               // [num_kv_heads * head_dim]
  WeightVector v_bias;               // [num_kv_heads * head_dim]
  WeightVector o_bias;               // [hidden]
  WeightVector post_attention_norm;  // [hidden]
  // gate and up are [inner, hidden]; down is [hidden, inner], or [inner, hidden] (one row per
  // neuron) when gated. inner is intermediate_size unless the compressor removed neurons.
  WeightMatrix gate, up, down;
  std::size_t inner = 0;
  // Gated: the MLP runs sparse, only for neurons with |SiLU(gate)| > gate_threshold, and down
  // is stored one row per neuron.
  bool gated = false;
  float gate_threshold = 0.0f;
};

struct LlamaWeights {
  WeightMatrix embed_tokens;  // [vocab, hidden]
  std::vector<LlamaLayerWeights> layers;
  WeightVector final_norm;                // [hidden]
  WeightMatrix lm_head;                   // [vocab, hidden]; embed_tokens when tied
  std::unique_ptr<WeightLoader> storage;  // owns the mapping and converted buffers
};

// Errors name the file and the tensor, and the layer for a layer's tensor.
absl::StatusOr<LlamaWeights> LoadLlamaWeights(const ModelConfig& config,
                                              std::unique_ptr<SafetensorsCheckpoint> checkpoint);

}  // namespace ghost

#endif  // GHOST_ENGINE_MODEL_LLAMA_WEIGHTS_H_
