#include "engine/model/config.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/common/json.h"
#include "engine/model/architecture.h"
#include "engine/model/config_reader.h"
#include "engine/model/rope_config.h"

namespace ghost {
namespace {

using Json = nlohmann::json;

constexpr std::int64_t kMaxContext = std::int64_t{1} << 24;

// The keys every family shares; `config.architecture` is already set.
absl::Status ReadCommonKeys(const ConfigReader& reader, ModelConfig& config) {
  absl::Status status;
  const auto check = [&status](absl::Status s) {
    if (status.ok()) status = std::move(s);
  };
  check(reader.String("model_type", config.model_type));
  check(reader.Dimension("hidden_size", kMaxConfigDimension, config.hidden_size));
  check(reader.Dimension("intermediate_size", kMaxConfigDimension, config.intermediate_size));
  check(reader.Dimension("num_hidden_layers", kMaxConfigDimension, config.num_hidden_layers));
  check(reader.Dimension("num_attention_heads", kMaxConfigDimension, config.num_attention_heads));
  check(reader.Dimension("vocab_size", kMaxConfigDimension, config.vocab_size));
  check(reader.Dimension("max_position_embeddings", kMaxContext, config.max_position_embeddings));
  if (!status.ok()) return status;
  check(reader.Dimension("num_key_value_heads", kMaxConfigDimension, config.num_key_value_heads,
                         config.num_attention_heads));
  const bool explicit_head_dim = reader.Has("head_dim");
  check(reader.Dimension("head_dim", kMaxConfigDimension, config.head_dim,
                         config.hidden_size / config.num_attention_heads));
  check(reader.PositiveNumber("rms_norm_eps", config.rms_norm_eps));
  check(ReadRopeConfig(reader, config));
  check(reader.Bool("tie_word_embeddings", config.tie_word_embeddings));
  check(reader.String("dtype", config.torch_dtype));  // newer transformers write "dtype"
  if (config.torch_dtype.empty()) check(reader.String("torch_dtype", config.torch_dtype));
  check(reader.String("hidden_act", config.hidden_act));
  check(reader.TokenIds("eos_token_id", config.eos_token_ids));
  std::vector<std::int32_t> bos;
  check(reader.TokenIds("bos_token_id", bos));
  if (!status.ok()) return status;
  if (!bos.empty()) config.bos_token_id = bos[0];

  if (!explicit_head_dim && config.hidden_size % config.num_attention_heads != 0) {
    return reader.Invalid(absl::StrCat("num_attention_heads (", config.num_attention_heads,
                                       ") does not divide hidden_size (", config.hidden_size, ")"));
  }
  if (config.num_attention_heads % config.num_key_value_heads != 0) {
    return reader.Invalid(absl::StrCat("num_key_value_heads (", config.num_key_value_heads,
                                       ") does not divide num_attention_heads (",
                                       config.num_attention_heads, ")"));
  }
  if (config.head_dim % 2 != 0) {
    return reader.Invalid(
        absl::StrCat("head_dim must be even for rotary embeddings, got ", config.head_dim));
  }
  if (config.hidden_act != "silu") {
    return reader.Unsupported(
        absl::StrCat("hidden_act \"", config.hidden_act, "\" is not supported (supported: silu)"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string ShortDtypeName(std::string_view torch_dtype) {
  if (torch_dtype == "bfloat16") return "bf16";
  if (torch_dtype == "float16" || torch_dtype == "half") return "f16";
  if (torch_dtype == "float32" || torch_dtype == "float") return "f32";
  return "";
}

absl::StatusOr<ModelConfig> ParseModelConfig(std::string_view json, const std::string& file_name) {
  absl::StatusOr<Json> parsed = ParseJsonStrict(json, file_name);
  if (!parsed.ok()) return parsed.status();
  const ConfigReader reader(*parsed, file_name);
  if (!parsed->is_object()) return reader.Invalid("config.json must be a JSON object");
  ModelConfig config;

  if (!reader.Has("architectures")) return reader.Missing("architectures");
  const Json& architectures = (*parsed)["architectures"];
  if (!architectures.is_array() || architectures.empty() || !architectures[0].is_string()) {
    return reader.Wrong("architectures", "a non-empty list of strings");
  }
  config.architecture = architectures[0].get<std::string>();
  const Architecture* architecture = FindArchitecture(config.architecture);
  if (architecture == nullptr) {
    return reader.Unsupported(
        absl::StrCat("unsupported architecture ", config.architecture,
                     " (supported: ", absl::StrJoin(SupportedArchitectures(), ", "), ")"));
  }
  if (absl::Status s = ReadCommonKeys(reader, config); !s.ok()) return s;
  if (absl::Status s = architecture->configure(reader, config); !s.ok()) return s;
  absl::StatusOr<std::optional<GhostQuantization>> quantization =
      ParseQuantizationConfig(*parsed, config.num_hidden_layers, file_name);
  if (!quantization.ok()) return quantization.status();
  config.quantization = *std::move(quantization);
  return config;
}

}  // namespace ghost
