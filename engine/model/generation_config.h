// generation_config.json: the checkpoint author's sampling defaults.
#ifndef GHOST_ENGINE_MODEL_GENERATION_CONFIG_H_
#define GHOST_ENGINE_MODEL_GENERATION_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/model.h"

namespace ghost {

struct GenerationConfig {
  GenerationDefaults defaults;
  std::vector<std::int32_t> eos_token_ids;  // empty when the file does not set them
};

// INVALID_ARGUMENT naming `file_name` and the key whose value has the wrong type or lies outside
// what a request may send for the same field (temperature >= 0, top_p in (0, 1], min_p in
// [0, 1], repetition_penalty > 0, top_k >= 0, max_new_tokens >= 1, eos ids in [0, 2^31)): a
// model whose defaults no request could use fails its load (state FAILED with this reason)
// rather than serving every request that leaves the field unset an error about it.
absl::StatusOr<GenerationConfig> ParseGenerationConfig(std::string_view json,
                                                       const std::string& file_name);

}  // namespace ghost

#endif  // GHOST_ENGINE_MODEL_GENERATION_CONFIG_H_
