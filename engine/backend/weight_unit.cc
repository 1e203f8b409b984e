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

UnitTensorShape ShapeOf(const UnitTensorSource& source) {
  UnitTensorShape shape;
  shape.kind = source.kind;
  switch (source.kind) {
    case UnitTensorSource::Kind::kVector:
      shape.rows = 1;
      shape.cols = source.values.size();
      break;
    case UnitTensorSource::Kind::kDense:
      shape.format = source.format;
      shape.rows = source.rows;
      shape.cols = source.cols;
      break;
    case UnitTensorSource::Kind::kQuant:
      shape.format = source.quant.format;
      shape.rows = source.quant.rows;
      shape.cols = source.quant.cols;
      shape.block_size = source.quant.block_size;
      shape.codebook_group_rows = source.quant.codebook_group_rows;
      break;
  }
  return shape;
}

compress::QuantizedMatrix QuantLayoutOf(const UnitTensorShape& shape) {
  compress::QuantizedMatrix m;
  m.format = shape.format;
  m.rows = shape.rows;
  m.cols = shape.cols;
  m.block_size = shape.block_size;
  m.codebook_group_rows = shape.codebook_group_rows;
  return m;
}

}  // namespace ghost
