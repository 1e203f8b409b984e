// The decoder families the engine runs. They share one forward (llama.cc) and differ in a few
// config keys and tensors; each family reads its own keys in its own file (arch_llama.cc,
// arch_qwen2.cc, arch_mistral.cc) and says which optional tensors it has through ModelConfig.
#ifndef GHOST_ENGINE_MODEL_ARCHITECTURE_H_
#define GHOST_ENGINE_MODEL_ARCHITECTURE_H_

#include <string_view>

#include "absl/status/status.h"
#include "engine/model/config.h"
#include "engine/model/config_reader.h"

namespace ghost {

struct Architecture {
  const char* name;  // architectures[0] in config.json, e.g. "LlamaForCausalLM"
  // Reads the family's own keys; the common ones are already in `config`.
  absl::Status (*configure)(const ConfigReader& reader, ModelConfig& config);
};

// nullptr when the engine does not run `name`.
const Architecture* FindArchitecture(std::string_view name);

absl::Status ConfigureLlama(const ConfigReader& reader, ModelConfig& config);
absl::Status ConfigureQwen2(const ConfigReader& reader, ModelConfig& config);
absl::Status ConfigureMistral(const ConfigReader& reader, ModelConfig& config);

}  // namespace ghost

#endif  // GHOST_ENGINE_MODEL_ARCHITECTURE_H_
