#include "engine/model/rope_config.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace ghost {
namespace {

constexpr const char* kSupportedRopeTypes = "default, linear, llama3";

absl::Status ReadScaling(const ConfigReader& params, RopeScaling& scaling) {
  std::string type = "default";
  // transformers writes "rope_type"; configs from before 4.45 wrote "type".
  const char* type_key = params.Has("rope_type") ? "rope_type" : "type";
  if (absl::Status s = params.String(type_key, type); !s.ok()) return s;
  if (type == "default") return absl::OkStatus();
  if (type != "linear" && type != "llama3") {
    return params.Unsupported(absl::StrCat(
        "rope type \"", type, "\" is not supported (supported: ", kSupportedRopeTypes, ")"));
  }
  if (!params.Has("factor")) return params.Missing("factor");
  if (absl::Status s = params.PositiveNumber("factor", scaling.factor); !s.ok()) return s;
  if (type == "linear") {
    scaling.type = RopeScaling::Type::kLinear;
    return absl::OkStatus();
  }
  scaling.type = RopeScaling::Type::kLlama3;
  for (const char* key : {"low_freq_factor", "high_freq_factor"}) {
    if (!params.Has(key)) return params.Missing(key);
  }
  absl::Status status = params.PositiveNumber("low_freq_factor", scaling.low_freq_factor);
  if (status.ok()) status = params.PositiveNumber("high_freq_factor", scaling.high_freq_factor);
  if (status.ok()) {
    status = params.Dimension("original_max_position_embeddings", std::int64_t{1} << 24,
                              scaling.original_max_position_embeddings);
  }
  if (!status.ok()) return status;
  if (scaling.high_freq_factor <= scaling.low_freq_factor) {
    return params.Invalid(absl::StrCat("llama3 rope scaling needs high_freq_factor (",
                                       scaling.high_freq_factor, ") > low_freq_factor (",
                                       scaling.low_freq_factor, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ReadRopeConfig(const ConfigReader& reader, ModelConfig& config) {
  if (absl::Status s = reader.PositiveNumber("rope_theta", config.rope_theta); !s.ok()) return s;
  // rope_parameters (transformers 5) supersedes rope_scaling when a config carries both.
  const char* key = reader.Has("rope_parameters") ? "rope_parameters"
                    : reader.Has("rope_scaling")  ? "rope_scaling"
                                                  : nullptr;
  if (key == nullptr) return absl::OkStatus();
  if (!reader.json()[key].is_object()) return reader.Wrong(key, "an object");
  const ConfigReader params(reader.json()[key], reader.file_name(), absl::StrCat(key, "."));
  if (absl::Status s = params.PositiveNumber("rope_theta", config.rope_theta); !s.ok()) return s;
  return ReadScaling(params, config.rope_scaling);
}

}  // namespace ghost
