#include "engine/model/config.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/common/json.h"

namespace ghost {
namespace {

using Json = nlohmann::json;

// Dimensions above these are certainly a corrupt file, and would overflow size arithmetic.
constexpr std::int64_t kMaxDimension = std::int64_t{1} << 20;
constexpr std::int64_t kMaxContext = std::int64_t{1} << 24;

class ConfigReader {
 public:
  ConfigReader(const Json& json, const std::string& file_name)
      : json_(json), file_name_(file_name) {}

  bool Has(const char* key) const { return json_.contains(key) && !json_[key].is_null(); }

  absl::Status Missing(const char* key) const {
    return absl::InvalidArgumentError(
        absl::StrCat(file_name_, ": missing key \"", key, "\" in config.json"));
  }
  absl::Status Wrong(const char* key, const char* expected) const {
    return absl::InvalidArgumentError(absl::StrCat(file_name_, ": \"", key, "\" must be ", expected,
                                                   ", got ", JsonSnippet(json_[key])));
  }

  // A required (or defaulted) integer dimension in [1, limit].
  absl::Status Dimension(const char* key, std::int64_t limit, int& out,
                         std::optional<int> fallback = std::nullopt) const {
    if (!Has(key)) {
      if (!fallback) return Missing(key);
      out = *fallback;
      return absl::OkStatus();
    }
    const Json& value = json_[key];
    if (!value.is_number_integer()) return Wrong(key, "an integer");
    const auto n = value.get<std::int64_t>();
    if (n <= 0 || n > limit) {
      return absl::InvalidArgumentError(
          absl::StrCat(file_name_, ": \"", key, "\" is ", n, ", must be in [1, ", limit, "]"));
    }
    out = static_cast<int>(n);
    return absl::OkStatus();
  }

  absl::Status PositiveNumber(const char* key, double& out) const {
    if (!Has(key)) return absl::OkStatus();  // keeps the default
    const Json& value = json_[key];
    if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() <= 0) {
      return Wrong(key, "a positive number");
    }
    out = value.get<double>();
    return absl::OkStatus();
  }

  absl::Status String(const char* key, std::string& out) const {
    if (!Has(key)) return absl::OkStatus();
    if (!json_[key].is_string()) return Wrong(key, "a string");
    out = json_[key].get<std::string>();
    return absl::OkStatus();
  }

  absl::Status Bool(const char* key, bool& out) const {
    if (!Has(key)) return absl::OkStatus();
    if (!json_[key].is_boolean()) return Wrong(key, "true or false");
    out = json_[key].get<bool>();
    return absl::OkStatus();
  }

  // A token id or a list of them.
  absl::Status TokenIds(const char* key, std::vector<std::int32_t>& out) const {
    if (!Has(key)) return absl::OkStatus();
    const Json& value = json_[key];
    const auto valid = [](const Json& v) {
      return v.is_number_integer() && v.get<std::int64_t>() >= 0 &&
             v.get<std::int64_t>() < kMaxDimension;
    };
    if (valid(value)) {
      out = {value.get<std::int32_t>()};
      return absl::OkStatus();
    }
    if (!value.is_array() || !std::all_of(value.begin(), value.end(), valid)) {
      return Wrong(key, "a token id or a list of token ids");
    }
    out.clear();
    for (const Json& id : value) out.push_back(id.get<std::int32_t>());
    return absl::OkStatus();
  }

 private:
  const Json& json_;
  const std::string& file_name_;
};

absl::Status Invalid(const std::string& file_name, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(file_name, ": ", message));
}

}  // namespace

const std::vector<std::string>& SupportedArchitectures() {
  static const auto* const kArchitectures = new std::vector<std::string>{"LlamaForCausalLM"};
  return *kArchitectures;
}

std::string ShortDtypeName(std::string_view torch_dtype) {
  if (torch_dtype == "bfloat16") return "bf16";
  if (torch_dtype == "float16" || torch_dtype == "half") return "f16";
  if (torch_dtype == "float32" || torch_dtype == "float") return "f32";
  return "";
}

absl::StatusOr<ModelConfig> ParseModelConfig(std::string_view json, const std::string& file_name) {
  absl::StatusOr<Json> parsed = ParseJsonStrict(json, file_name);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) return Invalid(file_name, "config.json must be a JSON object");
  const ConfigReader reader(*parsed, file_name);
  ModelConfig config;

  if (!reader.Has("architectures")) return reader.Missing("architectures");
  const Json& architectures = (*parsed)["architectures"];
  if (!architectures.is_array() || architectures.empty() || !architectures[0].is_string()) {
    return reader.Wrong("architectures", "a non-empty list of strings");
  }
  config.architecture = architectures[0].get<std::string>();
  const auto& supported = SupportedArchitectures();
  if (std::find(supported.begin(), supported.end(), config.architecture) == supported.end()) {
    return absl::UnimplementedError(
        absl::StrCat(file_name, ": unsupported architecture ", config.architecture,
                     " (supported: ", absl::StrJoin(supported, ", "), ")"));
  }

  absl::Status status;
  const auto check = [&status](absl::Status s) {
    if (status.ok()) status = std::move(s);
  };
  check(reader.String("model_type", config.model_type));
  check(reader.Dimension("hidden_size", kMaxDimension, config.hidden_size));
  check(reader.Dimension("intermediate_size", kMaxDimension, config.intermediate_size));
  check(reader.Dimension("num_hidden_layers", kMaxDimension, config.num_hidden_layers));
  check(reader.Dimension("num_attention_heads", kMaxDimension, config.num_attention_heads));
  check(reader.Dimension("vocab_size", kMaxDimension, config.vocab_size));
  check(reader.Dimension("max_position_embeddings", kMaxContext, config.max_position_embeddings));
  if (!status.ok()) return status;
  check(reader.Dimension("num_key_value_heads", kMaxDimension, config.num_key_value_heads,
                         config.num_attention_heads));
  const bool explicit_head_dim = reader.Has("head_dim");
  check(reader.Dimension("head_dim", kMaxDimension, config.head_dim,
                         config.hidden_size / config.num_attention_heads));
  check(reader.PositiveNumber("rms_norm_eps", config.rms_norm_eps));
  check(reader.PositiveNumber("rope_theta", config.rope_theta));
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
    return Invalid(file_name,
                   absl::StrCat("num_attention_heads (", config.num_attention_heads,
                                ") does not divide hidden_size (", config.hidden_size, ")"));
  }
  if (config.num_attention_heads % config.num_key_value_heads != 0) {
    return Invalid(file_name, absl::StrCat("num_key_value_heads (", config.num_key_value_heads,
                                           ") does not divide num_attention_heads (",
                                           config.num_attention_heads, ")"));
  }
  if (config.head_dim % 2 != 0) {
    return Invalid(file_name, absl::StrCat("head_dim must be even for rotary embeddings, got ",
                                           config.head_dim));
  }
  if (config.hidden_act != "silu") {
    return absl::UnimplementedError(absl::StrCat(file_name, ": hidden_act \"", config.hidden_act,
                                                 "\" is not supported (supported: silu)"));
  }
  // Features that change the math; refusing them beats silently wrong logits.
  if (reader.Has("rope_scaling")) {
    return absl::UnimplementedError(absl::StrCat(file_name, ": rope_scaling is not supported yet"));
  }
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    bool enabled = false;
    if (absl::Status s = reader.Bool(key, enabled); !s.ok()) return s;
    if (enabled) {
      return absl::UnimplementedError(absl::StrCat(file_name, ": ", key, " is not supported"));
    }
  }
  return config;
}

}  // namespace ghost
