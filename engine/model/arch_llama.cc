// LlamaForCausalLM: Llama 2/3/3.x and the models built on its layout (TinyLlama, SmolLM).
// Rotary scaling (linear, llama3) is read for every family in rope_config.cc; what is Llama's
// own is the optional attention bias.
#include "engine/model/architecture.h"

namespace ghost {

absl::Status ConfigureLlama(const ConfigReader& reader, ModelConfig& config) {
  // attention_bias puts a bias on all four attention projections (q, k, v and o).
  bool attention_bias = false;
  if (absl::Status s = reader.Bool("attention_bias", attention_bias); !s.ok()) return s;
  config.qkv_bias = attention_bias;
  config.output_bias = attention_bias;
  bool mlp_bias = false;
  if (absl::Status s = reader.Bool("mlp_bias", mlp_bias); !s.ok()) return s;
  if (mlp_bias) return reader.Unsupported("mlp_bias is not supported");
  return absl::OkStatus();
}

}  // namespace ghost
