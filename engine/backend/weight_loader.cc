#include "engine/backend/weight_loader.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

bool Aligned(const void* p, std::size_t alignment) {
  return reinterpret_cast<std::uintptr_t>(p) % alignment == 0;
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
  const TensorView* tensor = checkpoint_->Find(name);
  if (tensor == nullptr) return std::nullopt;
  if (tensor->dtype != Dtype::kI32 || tensor->shape.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(checkpoint_->FileOf(name), ": tensor ", name,
                                                   " must be a 1-D I32 tensor"));
  }
  std::vector<std::int32_t> values(static_cast<std::size_t>(tensor->shape[0]));
  std::memcpy(values.data(), tensor->data, tensor->nbytes);
  return values;
}

absl::StatusOr<const TensorView*> WeightLoader::Find(const std::string& name,
                                                     const std::vector<std::int64_t>& shape) {
  const TensorView* tensor = checkpoint_->Find(name);
  if (tensor == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(checkpoint_->path(), ": missing tensor ", name));
  }
  const std::string& file = checkpoint_->FileOf(name);
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
  parameters_ += tensor->num_elements();
  parameters_by_dtype_[ShortName(tensor->dtype)] += tensor->num_elements();
  return tensor;
}

const float* WeightLoader::OwnFloats(std::vector<float> values) {
  resident_bytes_ += static_cast<std::int64_t>(values.size() * sizeof(float));
  f32_buffers_.push_back(std::move(values));
  return f32_buffers_.back().data();
}

absl::StatusOr<WeightMatrix> WeightLoader::Matrix(const std::string& name, std::int64_t rows,
                                                  std::int64_t cols) {
  const TensorLookup lookup = [this](const std::string& n) { return checkpoint_->Find(n); };
  if (quantization_ != nullptr && HasQuantizedTensors(lookup, LinearBaseName(name))) {
    const std::int64_t before = quantized_.bytes();
    absl::StatusOr<WeightMatrix> matrix =
        quantized_.Load(lookup, checkpoint_->path(), name, rows, cols, *quantization_);
    if (!matrix.ok()) return matrix.status();
    resident_bytes_ += quantized_.bytes() - before;
    parameters_ += rows * cols;
    parameters_by_dtype_[compress::FormatName(quantization_->format)] += rows * cols;
    return matrix;
  }
  absl::StatusOr<const TensorView*> found = Find(name, {rows, cols});
  if (!found.ok()) return found.status();
  const TensorView& t = **found;
  WeightMatrix matrix{WeightFormat::kF32, nullptr, static_cast<std::size_t>(rows),
                      static_cast<std::size_t>(cols)};
  const std::size_t count = matrix.rows * matrix.cols;
  if (t.dtype == Dtype::kBF16 || t.dtype == Dtype::kF16) {
    matrix.format = t.dtype == Dtype::kBF16 ? WeightFormat::kBF16 : WeightFormat::kF16;
    resident_bytes_ += static_cast<std::int64_t>(t.nbytes);
    if (Aligned(t.data, alignof(std::uint16_t))) {
      matrix.data = t.data;
    } else {
      std::vector<std::uint16_t> copy(count);
      std::memcpy(copy.data(), t.data, t.nbytes);
      half_buffers_.push_back(std::move(copy));
      matrix.data = half_buffers_.back().data();
    }
    return matrix;
  }
  if (t.dtype == Dtype::kF32 && Aligned(t.data, alignof(float))) {
    resident_bytes_ += static_cast<std::int64_t>(t.nbytes);
    matrix.data = t.data;
    return matrix;
  }
  matrix.data = OwnFloats(TensorToF32(t));
  return matrix;
}

absl::StatusOr<WeightVector> WeightLoader::Vector(const std::string& name, std::int64_t size) {
  absl::StatusOr<const TensorView*> found = Find(name, {size});
  if (!found.ok()) return found.status();
  return WeightVector{OwnFloats(TensorToF32(**found)), static_cast<std::size_t>(size)};
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
