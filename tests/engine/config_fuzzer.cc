// libFuzzer target: config.json and generation_config.json parsing (ParseModelConfig,
// ParseGenerationConfig) on arbitrary bytes. Besides crashes and sanitizer reports it checks the
// parsers' promises: errors name the file and are valid UTF-8 (they reach clients and logs), and
// an accepted config has the bounded, positive dimensions the loader sizes memory from.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/common/utf8.h"
#include "engine/model/config.h"
#include "engine/model/generation_config.h"

namespace {

void Check(bool promise) {
  if (!promise) std::abort();
}

void CheckError(const absl::Status& status, std::string_view file) {
  const std::string_view message(status.message().data(), status.message().size());
  Check(message.find(file) != std::string_view::npos);
  Check(ghost::IsValidUtf8(message));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ghost::ModelConfig> config = ghost::ParseModelConfig(text, "fuzz/config.json");
  if (!config.ok()) {
    CheckError(config.status(), "fuzz/config.json");
  } else {
    Check(config->hidden_size > 0 && config->num_hidden_layers > 0 && config->vocab_size > 0);
    Check(config->num_attention_heads > 0 && config->num_key_value_heads > 0);
    Check(config->head_dim > 0 && config->intermediate_size > 0);
    Check(config->max_position_embeddings > 0 && config->max_position_embeddings <= (1 << 24));
  }
  absl::StatusOr<ghost::GenerationConfig> generation =
      ghost::ParseGenerationConfig(text, "fuzz/generation_config.json");
  if (!generation.ok()) {
    CheckError(generation.status(), "fuzz/generation_config.json");
  } else {
    const ghost::GenerationDefaults& d = generation->defaults;
    Check(!d.temperature || *d.temperature >= 0);
    Check(!d.top_p || (*d.top_p > 0 && *d.top_p <= 1));
    Check(!d.max_new_tokens || *d.max_new_tokens >= 1);
    for (const std::int32_t id : generation->eos_token_ids) Check(id >= 0);
  }
  return 0;
}
