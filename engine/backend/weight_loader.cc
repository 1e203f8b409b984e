#include "engine/backend/weight_loader.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/checkpoint/quantized_tensors.h"
#include "engine/compress/fp16.h"
#include "kernels/cpu/matmul.h"

namespace ghost {
namespace {

std::string ShapeString(const std::vector<std::int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

const char* ShortName(Dtype dtype) {
  switch (dtype) {
    case Dtype::kBF16:
      return "bf16";
    case Dtype::kF16:
      return "f16";
    default:
      return "f32";
  }
}

// Two-level scales expanded to one fp16 scale per block (the layout every backend reads), which
// rounds each block scale to fp16.
compress::QuantizedMatrix WithBlockScales(compress::QuantizedMatrix m) {
  if (m.scale_scheme != compress::ScaleScheme::kTwoLevel) return m;
  const std::size_t blocks = m.blocks_per_row();
  std::vector<std::uint16_t> block_scales(m.rows * blocks);
  for (std::size_t r = 0; r < m.rows; ++r) {
    for (std::size_t b = 0; b < blocks; ++b) {
      block_scales[r * blocks + b] = compress::ScaleToF16(m.BlockScale(r, b));
    }
  }
  m.scales = std::move(block_scales);
  m.scale_scheme = compress::ScaleScheme::kF16PerBlock;
  m.sub_scale_bits = 0;
  m.sub_scales.clear();
  return m;
}

}  // namespace

std::vector<float> TensorToF32(const TensorView& tensor) {
  std::vector<float> out(static_cast<std::size_t>(tensor.num_elements()));
  if (tensor.dtype == Dtype::kF32) {
    std::memcpy(out.data(), tensor.data, out.size() * sizeof(float));
    return out;
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::uint16_t bits;
    std::memcpy(&bits, tensor.data + 2 * i, 2);
    out[i] = tensor.dtype == Dtype::kBF16 ? kernels::Bf16ToF32(bits) : kernels::F16ToF32(bits);
  }
  return out;
}

absl::StatusOr<std::optional<std::vector<std::int32_t>>> WeightLoader::OptionalIndices(
    const std::string& name) {
  const TensorView* tensor = checkpoint_.Find(name);
  if (tensor == nullptr) return std::nullopt;
  if (tensor->dtype != Dtype::kI32 || tensor->shape.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(checkpoint_.FileOf(name), ": tensor ", name, " must be a 1-D I32 tensor"));
  }
  std::vector<std::int32_t> values(static_cast<std::size_t>(tensor->shape[0]));
  std::memcpy(values.data(), tensor->data, tensor->nbytes);
  return values;
}

absl::StatusOr<const TensorView*> WeightLoader::Find(const std::string& name,
                                                     const std::vector<std::int64_t>& shape) {
  const TensorView* tensor = checkpoint_.Find(name);
  if (tensor == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(checkpoint_.path(), ": missing tensor ", name));
  }
  const std::string& file = checkpoint_.FileOf(name);
  if (tensor->shape != shape) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": tensor ", name, " has shape ",
                                                   ShapeString(tensor->shape), ", expected ",
                                                   ShapeString(shape)));
  }
  if (tensor->dtype != Dtype::kF32 && tensor->dtype != Dtype::kBF16 &&
      tensor->dtype != Dtype::kF16) {
    return absl::UnimplementedError(absl::StrCat(file, ": tensor ", name, " has dtype ",
                                                 DtypeName(tensor->dtype),
                                                 ", supported: F32, BF16, F16"));
  }
  return tensor;
}

void WeightLoader::CountParameters(const std::string& dtype, std::int64_t count) {
  if (sizing_) return;
  parameters_ += count;
  parameters_by_dtype_[dtype] += count;
}

absl::StatusOr<std::size_t> WeightLoader::Matrix(const std::string& name, std::int64_t rows,
                                                 std::int64_t cols) {
  const TensorLookup lookup = [this](const std::string& n) { return checkpoint_.Find(n); };
  UnitTensorSource source;
  source.name = name;
  source.rows = static_cast<std::size_t>(rows);
  source.cols = static_cast<std::size_t>(cols);
  if (quantization_ != nullptr && HasQuantizedTensors(lookup, LinearBaseName(name))) {
    source.kind = UnitTensorSource::Kind::kQuant;
    CountParameters(WeightFormatName(quantization_->format), rows * cols);
    if (sizing_) {
      // The layout the reader below gives, from the config alone.
      source.quant.format = quantization_->format;
      source.quant.rows = source.rows;
      source.quant.cols = source.cols;
      source.quant.block_size = quantization_->block_size;
      source.quant.codebook_group_rows = quantization_->codebook_group_rows;
    } else {
      absl::StatusOr<compress::QuantizedMatrix> m = ReadQuantizedMatrix(
          lookup, checkpoint_.path(), LinearBaseName(name), rows, cols, *quantization_);
      if (!m.ok()) return m.status();
      source.quant = WithBlockScales(*std::move(m));
    }
  } else {
    absl::StatusOr<const TensorView*> found = Find(name, {rows, cols});
    if (!found.ok()) return found.status();
    CountParameters(ShortName((*found)->dtype), (*found)->num_elements());
    source.kind = UnitTensorSource::Kind::kDense;
    source.format = (*found)->dtype == Dtype::kBF16  ? WeightFormat::kBF16
                    : (*found)->dtype == Dtype::kF16 ? WeightFormat::kF16
                                                     : WeightFormat::kF32;
    source.bytes = (*found)->data;
  }
  pending_shapes_.push_back(ShapeOf(source));
  if (!sizing_) pending_.push_back(std::move(source));
  return pending_shapes_.size() - 1;
}

absl::StatusOr<std::size_t> WeightLoader::Vector(const std::string& name, std::int64_t size) {
  absl::StatusOr<const TensorView*> found = Find(name, {size});
  if (!found.ok()) return found.status();
  CountParameters(ShortName((*found)->dtype), (*found)->num_elements());
  UnitTensorShape shape;
  shape.kind = UnitTensorSource::Kind::kVector;
  shape.rows = 1;
  shape.cols = static_cast<std::size_t>(size);
  pending_shapes_.push_back(shape);
  if (!sizing_) {
    UnitTensorSource source;
    source.name = name;
    source.kind = UnitTensorSource::Kind::kVector;
    source.values = TensorToF32(**found);
    pending_.push_back(std::move(source));
  }
  return pending_shapes_.size() - 1;
}

std::vector<UnitTensorSource> WeightLoader::TakePending() {
  std::vector<UnitTensorSource> sources = std::move(pending_);
  pending_.clear();
  pending_shapes_.clear();
  return sources;
}

std::size_t WeightLoader::UnitBytes() {
  const std::size_t bytes = backend_.UnitBytes(pending_shapes_);
  TakePending();
  return bytes;
}

absl::StatusOr<std::unique_ptr<WeightUnit>> WeightLoader::MakeUnit() {
  if (sizing_) return absl::FailedPreconditionError("a sizing weight loader makes no units");
  absl::StatusOr<std::unique_ptr<WeightUnit>> unit = backend_.NewWeightUnit(TakePending());
  if (unit.ok()) resident_bytes_ += static_cast<std::int64_t>((*unit)->weight_bytes());
  return unit;
}

absl::StatusOr<std::unique_ptr<WeightUnit>> WeightLoader::MakeStreamedUnit(
    LayerTransportBuilder& builder, std::size_t layer) {
  if (sizing_) return absl::FailedPreconditionError("a sizing weight loader makes no units");
  absl::StatusOr<std::unique_ptr<WeightUnit>> unit = builder.MakeStreamedUnit(layer, TakePending());
  if (unit.ok()) resident_bytes_ += static_cast<std::int64_t>((*unit)->weight_bytes());
  return unit;
}

std::string WeightLoader::dominant_dtype() const {
  std::string best = "f32";
  std::int64_t most = -1;
  for (const auto& [dtype, count] : parameters_by_dtype_) {
    if (count > most) {
      best = dtype;
      most = count;
    }
  }
  return best;
}

}  // namespace ghost
