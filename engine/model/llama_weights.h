// The tensors of a Llama checkpoint (Hugging Face LlamaForCausalLM names), shape-checked.
#ifndef GHOST_ENGINE_MODEL_LLAMA_WEIGHTS_H_
#define GHOST_ENGINE_MODEL_LLAMA_WEIGHTS_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/config.h"
#include "engine/model/safetensors.h"
#include "engine/model/weight_loader.h"
#include "engine/model/weight_matrix.h"

namespace ghost {

struct LlamaLayerWeights {
  const float* input_norm = nullptr;  // [hidden]
  WeightMatrix q, k, v, o;
  const float* post_attention_norm = nullptr;  // [hidden]
  WeightMatrix gate, up, down;
};

struct LlamaWeights {
  WeightMatrix embed_tokens;  // [vocab, hidden]
  std::vector<LlamaLayerWeights> layers;
  const float* final_norm = nullptr;      // [hidden]
  WeightMatrix lm_head;                   // [vocab, hidden]; embed_tokens when tied
  std::unique_ptr<WeightLoader> storage;  // owns the mapping and converted buffers
};

absl::StatusOr<LlamaWeights> LoadLlamaWeights(const ModelConfig& config,
                                              std::unique_ptr<SafetensorsFile> file);

}  // namespace ghost

#endif  // GHOST_ENGINE_MODEL_LLAMA_WEIGHTS_H_
