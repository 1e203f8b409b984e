// The model configuration read from a Hugging Face config.json.
#ifndef GHOST_ENGINE_MODEL_CONFIG_H_
#define GHOST_ENGINE_MODEL_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/checkpoint/quantization_config.h"
#include "engine/model/rope.h"

namespace ghost {

struct ModelConfig {
  std::string architecture;  // architectures[0], e.g. "LlamaForCausalLM"
  std::string model_type;    // e.g. "llama"
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;  // defaults to num_attention_heads
  int head_dim = 0;             // defaults to hidden_size / num_attention_heads
  int vocab_size = 0;
  int max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;  // from rope_theta or rope_parameters.rope_theta
  RopeScaling rope_scaling;     // from rope_scaling or rope_parameters
  bool tie_word_embeddings = false;
  std::string torch_dtype;  // as written ("bfloat16", "float32", ...); "" when absent
  std::optional<std::int32_t> bos_token_id;
  std::vector<std::int32_t> eos_token_ids;
  std::string hidden_act = "silu";
  // Set by the architecture (architecture.h), not read directly from one key:
  bool qkv_bias = false;     // q/k/v_proj.bias tensors (Qwen2; Llama attention_bias)
  bool output_bias = false;  // o_proj.bias (Llama attention_bias)
  int sliding_window = 0;    // 0: full causal attention; else Mistral's window (backend.h)
  // quantization_config of a model the ghost compressor wrote (quantization_config.h);
  // another quant_method is UNIMPLEMENTED.
  std::optional<GhostQuantization> quantization;
};

// Architectures the engine can run (the table in architecture.cc).
const std::vector<std::string>& SupportedArchitectures();

// Parses and validates config.json. INVALID_ARGUMENT messages start with `file_name` and say
// which key is missing or wrong, and what is unsupported.
absl::StatusOr<ModelConfig> ParseModelConfig(std::string_view json, const std::string& file_name);

// "bf16", "f16", "f32" for the torch dtype names (and "" for unknown or absent).
std::string ShortDtypeName(std::string_view torch_dtype);

}  // namespace ghost

#endif  // GHOST_ENGINE_MODEL_CONFIG_H_
