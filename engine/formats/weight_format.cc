#include "engine/formats/weight_format.h"

namespace ghost {

std::optional<WeightFormat> ParseWeightFormat(std::string_view name) {
  for (const WeightFormatTraits& traits : kWeightFormats) {
    if (name == traits.name) return traits.format;
  }
  return std::nullopt;
}

}  // namespace ghost
