#include "engine/checkpoint/quantization_config.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/common/status_macros.h"

namespace ghost {
namespace {

using Json = nlohmann::json;

absl::Status FieldError(const std::string& file, const std::string& field,
                        const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ": quantization_config.", field, " ", what));
}

template <typename Enum, std::size_t N>
std::optional<Enum> EnumFromName(const std::string& name, const Enum (&values)[N],
                                 const char* (*name_of)(Enum)) {
  for (Enum value : values) {
    if (name == name_of(value)) return value;
  }
  return std::nullopt;
}

// "ternary-2bit, ternary-base3, codebook-2bit": what quantization_config.format may say.
std::string BlockQuantizedFormatNames() {
  std::vector<const char*> names;
  for (const WeightFormatTraits& traits : kWeightFormats) {
    if (traits.block_quantized) names.push_back(traits.name);
  }
  return absl::StrJoin(names, ", ");
}

}  // namespace

Json GhostQuantization::ToJson() const {
  Json json = {{"quant_method", "ghost"},
               {"scheme", scheme},
               {"format", WeightFormatName(format)},
               {"block_size", block_size},
               {"scale_scheme", compress::ScaleSchemeName(scale_scheme)}};
  if (scale_scheme == compress::ScaleScheme::kTwoLevel) json["sub_scale_bits"] = sub_scale_bits;
  if (format == WeightFormat::kCodebook2Bit) {
    json["codebook_group_rows"] = codebook_group_rows;
  }
  if (gated()) json["gate_thresholds"] = gate_thresholds;
  return json;
}

absl::StatusOr<std::optional<GhostQuantization>> ParseQuantizationConfig(
    const Json& config, int num_layers, const std::string& file_name) {
  if (!config.contains("quantization_config")) return std::nullopt;
  const Json& q = config["quantization_config"];
  if (!q.is_object()) return FieldError(file_name, "", "is not an object");
  const std::string method = q.contains("quant_method") && q["quant_method"].is_string()
                                 ? q["quant_method"].get<std::string>()
                                 : "";
  if (method != "ghost") {
    return absl::UnimplementedError(absl::StrCat(
        file_name, ": quantization_config.quant_method \"", method,
        "\" is not supported; this server runs unquantized models and those it compressed "
        "itself (quant_method \"ghost\")"));
  }
  const auto string_field = [&](const char* key) -> absl::StatusOr<std::string> {
    if (!q.contains(key) || !q[key].is_string()) return FieldError(file_name, key, "is missing");
    return q[key].get<std::string>();
  };
  const auto count_field = [&](const char* key) -> absl::StatusOr<std::size_t> {
    if (!q.contains(key) || !q[key].is_number_unsigned()) {
      return FieldError(file_name, key, "is missing or not a positive integer");
    }
    return q[key].get<std::size_t>();
  };

  GhostQuantization out;
  GHOST_ASSIGN_OR_RETURN(out.scheme, string_field("scheme"));

  GHOST_ASSIGN_OR_RETURN(const std::string format, string_field("format"));
  const std::optional<WeightFormat> parsed_format = ParseWeightFormat(format);
  if (!parsed_format || !IsBlockQuantized(*parsed_format)) {
    return FieldError(file_name, "format",
                      absl::StrCat("\"", format, "\" is not a block-quantized weight format (",
                                   BlockQuantizedFormatNames(), ")"));
  }
  out.format = *parsed_format;

  GHOST_ASSIGN_OR_RETURN(out.block_size, count_field("block_size"));
  if (std::find(kBlockSizes.begin(), kBlockSizes.end(), out.block_size) == kBlockSizes.end()) {
    return FieldError(file_name, "block_size",
                      absl::StrCat(out.block_size, " is not one of 16, 32, 64, 128, 256"));
  }

  GHOST_ASSIGN_OR_RETURN(const std::string scales, string_field("scale_scheme"));
  constexpr compress::ScaleScheme kSchemes[] = {compress::ScaleScheme::kF16PerBlock,
                                                compress::ScaleScheme::kTwoLevel};
  const std::optional<compress::ScaleScheme> parsed_scales =
      EnumFromName(scales, kSchemes, compress::ScaleSchemeName);
  if (!parsed_scales) {
    return FieldError(file_name, "scale_scheme",
                      absl::StrCat("\"", scales, "\" is unknown (fp16, two-level)"));
  }
  out.scale_scheme = *parsed_scales;
  if (out.scale_scheme == compress::ScaleScheme::kTwoLevel) {
    GHOST_ASSIGN_OR_RETURN(const std::size_t bits, count_field("sub_scale_bits"));
    if (bits != 4 && bits != 6) return FieldError(file_name, "sub_scale_bits", "must be 4 or 6");
    out.sub_scale_bits = static_cast<int>(bits);
  }
  if (out.format == WeightFormat::kCodebook2Bit) {
    GHOST_ASSIGN_OR_RETURN(out.codebook_group_rows, count_field("codebook_group_rows"));
    if (out.codebook_group_rows == 0) {
      return FieldError(file_name, "codebook_group_rows", "must be at least 1");
    }
  }
  if (q.contains("gate_thresholds")) {
    const Json& t = q["gate_thresholds"];
    if (!t.is_array() || t.size() != static_cast<std::size_t>(num_layers)) {
      return FieldError(
          file_name, "gate_thresholds",
          absl::StrCat("must be an array of ", num_layers, " numbers, one per layer"));
    }
    for (const Json& value : t) {
      if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0) {
        return FieldError(file_name, "gate_thresholds", "must hold finite numbers >= 0");
      }
      out.gate_thresholds.push_back(value.get<float>());
    }
  }
  return out;
}

std::string LinearBaseName(const std::string& weight_name) {
  constexpr std::string_view kSuffix = ".weight";
  if (weight_name.size() > kSuffix.size() &&
      weight_name.compare(weight_name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
    return weight_name.substr(0, weight_name.size() - kSuffix.size());
  }
  return weight_name;
}

}  // namespace ghost
