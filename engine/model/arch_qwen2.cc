// Qwen2ForCausalLM (Qwen2, Qwen2.5): the Llama layout plus bias tensors on the q, k and v
// projections, which every checkpoint has although no config key announces them.
#include "engine/model/architecture.h"

namespace ghost {

absl::Status ConfigureQwen2(const ConfigReader& reader, ModelConfig& config) {
  config.qkv_bias = true;
  // Qwen2 keeps "sliding_window" in every config but applies it only with use_sliding_window,
  // and then only to the layers from max_window_layers on; released checkpoints leave it off.
  bool use_sliding_window = false;
  if (absl::Status s = reader.Bool("use_sliding_window", use_sliding_window); !s.ok()) return s;
  if (use_sliding_window) {
    return reader.Unsupported(
        "use_sliding_window is not supported for Qwen2ForCausalLM (full attention only)");
  }
  return absl::OkStatus();
}

}  // namespace ghost
