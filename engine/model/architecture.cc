#include "engine/model/architecture.h"

#include <array>
#include <string>
#include <vector>

namespace ghost {
namespace {

constexpr std::array<Architecture, 3> kArchitectures = {{
    {"LlamaForCausalLM", ConfigureLlama},
    {"Qwen2ForCausalLM", ConfigureQwen2},
    {"MistralForCausalLM", ConfigureMistral},
}};

}  // namespace

const Architecture* FindArchitecture(std::string_view name) {
  for (const Architecture& architecture : kArchitectures) {
    if (name == architecture.name) return &architecture;
  }
  return nullptr;
}

const std::vector<std::string>& SupportedArchitectures() {
  static const auto* const kNames = [] {
    auto* names = new std::vector<std::string>;
    for (const Architecture& architecture : kArchitectures) names->push_back(architecture.name);
    return names;
  }();
  return *kNames;
}

}  // namespace ghost
