// Reads the rotary embedding keys of config.json into ModelConfig. Two layouts exist: the
// classic top-level "rope_theta" plus an optional "rope_scaling" object, and the newer
// "rope_parameters" object holding rope_theta and the scaling keys together.
#ifndef GHOST_ENGINE_MODEL_ROPE_CONFIG_H_
#define GHOST_ENGINE_MODEL_ROPE_CONFIG_H_

#include "absl/status/status.h"
#include "engine/model/config.h"
#include "engine/model/config_reader.h"

namespace ghost {

// INVALID_ARGUMENT for malformed values; UNIMPLEMENTED naming an unknown rope type and the
// supported ones.
absl::Status ReadRopeConfig(const ConfigReader& reader, ModelConfig& config);

}  // namespace ghost

#endif  // GHOST_ENGINE_MODEL_ROPE_CONFIG_H_
