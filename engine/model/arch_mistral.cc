// MistralForCausalLM: the Llama layout with an optional sliding attention window
// ("sliding_window": 4096 in Mistral 7B v0.1, null from v0.2 on).
#include "engine/model/architecture.h"

namespace ghost {

absl::Status ConfigureMistral(const ConfigReader& reader, ModelConfig& config) {
  if (!reader.Has("sliding_window")) return absl::OkStatus();  // null: full attention
  return reader.Dimension("sliding_window", std::int64_t{1} << 24, config.sliding_window);
}

}  // namespace ghost
