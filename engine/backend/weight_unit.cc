#include "engine/backend/weight_unit.h"

#include "absl/strings/str_cat.h"

namespace ghost {

absl::Status CheckUnitSource(const UnitTensorSource& source, const char* device) {
  switch (source.kind) {
    case UnitTensorSource::Kind::kVector:
      return absl::OkStatus();
    case UnitTensorSource::Kind::kDense:
      if (!IsBlockQuantized(source.format) &&
          (source.bytes != nullptr || source.rows * source.cols == 0)) {
        return absl::OkStatus();
      }
      break;
    case UnitTensorSource::Kind::kQuant:
      if (source.quant.scale_scheme == compress::ScaleScheme::kF16PerBlock) {
        return absl::OkStatus();
      }
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("tensor ", source.name, " cannot be placed in a ", device, " weight unit"));
}

}  // namespace ghost
