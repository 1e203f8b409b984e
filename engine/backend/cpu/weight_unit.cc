// The CPU backend's weight units: one allocation per unit (2 MiB-aligned transparent huge pages
// once it is that large, which matters when a step streams through gigabytes of weights),
// holding fp32 vectors, dense matrices as stored, and low-bit matrices packed by
// kernels::QuantWeights::PrepareInto.
#include <cstring>
#include <deque>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "kernels/cpu/huge_page_allocator.h"
#include "kernels/cpu/quant_matmul.h"

namespace ghost {
namespace {

kernels::QuantMatrixView ViewOf(const compress::QuantizedMatrix& m) {
  kernels::QuantMatrixView view;
  view.format = m.format;
  view.rows = m.rows;
  view.cols = m.cols;
  view.block_size = m.block_size;
  view.codes = m.codes.data();
  view.scales = m.scales.data();
  view.codebook = m.codebook.empty() ? nullptr : m.codebook.data();
  view.codebook_group_rows = m.codebook_group_rows;
  return view;
}

// The bytes a tensor of `shape` takes in a unit.
std::size_t TensorBytes(const UnitTensorShape& shape) {
  switch (shape.kind) {
    case UnitTensorSource::Kind::kVector:
      return shape.cols * sizeof(float);
    case UnitTensorSource::Kind::kDense:
      return shape.rows * shape.cols * (shape.format == WeightFormat::kF32 ? 4 : 2);
    case UnitTensorSource::Kind::kQuant: {
      kernels::QuantMatrixView view;
      view.format = shape.format;
      view.rows = shape.rows;
      view.cols = shape.cols;
      view.block_size = shape.block_size;
      return kernels::QuantWeights::PackedBytes(view);
    }
  }
  return 0;
}

class CpuWeightUnit final : public WeightUnit {
 public:
  // Lays the sources out one after another and copies (or packs) them in.
  explicit CpuWeightUnit(const std::vector<UnitTensorSource>& sources)
      : matrices_(sources.size()), vectors_(sources.size()), quant_of_(sources.size()) {
    std::size_t end = 0;
    for (const UnitTensorSource& source : sources) {
      table_.push_back({source.name, AlignToWeightUnit(end), TensorBytes(ShapeOf(source))});
      end = table_.back().offset + table_.back().bytes;
      kinds_.push_back(source.kind);
    }
    bytes_ = AlignToWeightUnit(end);
    data_ = static_cast<std::byte*>(kernels::AllocateHugePages(bytes_));
    // Padding (between tensors, inside packed rows) is zero: equal weights give equal bytes,
    // which a layer file's checksums rely on.
    std::memset(data_, 0, bytes_);
    for (std::size_t i = 0; i < sources.size(); ++i) Place(i, sources[i]);
    Rebind(nullptr);
  }
  CpuWeightUnit(const CpuWeightUnit&) = delete;
  CpuWeightUnit& operator=(const CpuWeightUnit&) = delete;
  ~CpuWeightUnit() override { ReleaseBytes(); }

  const std::byte* data() const override { return data_; }
  std::size_t bytes() const override { return bytes_; }
  absl::Span<const Tensor> tensors() const override { return table_; }
  std::size_t weight_bytes() const override { return weight_bytes_; }
  const WeightMatrix& matrix(std::size_t i) const override { return matrices_[i]; }
  const WeightVector& vector(std::size_t i) const override { return vectors_[i]; }

  void ReleaseBytes() override {
    if (data_ != nullptr) kernels::FreeHugePages(data_, bytes_);
    data_ = nullptr;
  }

  void Rebind(const std::byte* copy) override {
    const std::byte* base = copy != nullptr ? copy : data_;
    for (std::size_t i = 0; i < table_.size(); ++i) {
      const std::byte* at = base == nullptr ? nullptr : base + table_[i].offset;
      switch (kinds_[i]) {
        case UnitTensorSource::Kind::kVector:
          vectors_[i].data = reinterpret_cast<const float*>(at);
          break;
        case UnitTensorSource::Kind::kDense:
          matrices_[i].data = at;
          break;
        case UnitTensorSource::Kind::kQuant:
          quant_of_[i]->Rebind(reinterpret_cast<const std::uint8_t*>(at));
          break;
      }
    }
  }

 private:
  // Writes source i's bytes at its offset and sets up its handle (its data set by Rebind).
  void Place(std::size_t i, const UnitTensorSource& source) {
    std::byte* at = data_ + table_[i].offset;
    switch (source.kind) {
      case UnitTensorSource::Kind::kVector:
        std::memcpy(at, source.values.data(), table_[i].bytes);
        vectors_[i].size = source.values.size();
        weight_bytes_ += table_[i].bytes;
        return;
      case UnitTensorSource::Kind::kDense:
        std::memcpy(at, source.bytes, table_[i].bytes);
        matrices_[i] = WeightMatrix{source.format, nullptr, source.rows, source.cols};
        weight_bytes_ += table_[i].bytes;
        return;
      case UnitTensorSource::Kind::kQuant: {
        kernels::QuantWeights& weights = quant_.emplace_back(kernels::QuantWeights::PrepareInto(
            ViewOf(source.quant), reinterpret_cast<std::uint8_t*>(at)));
        quant_of_[i] = &weights;
        matrices_[i] = WeightMatrix{source.quant.format, &weights, source.rows, source.cols};
        weight_bytes_ += weights.bytes();
        return;
      }
    }
  }

  std::vector<Tensor> table_;
  std::vector<UnitTensorSource::Kind> kinds_;  // per tensor
  std::size_t bytes_ = 0;
  std::byte* data_ = nullptr;  // bytes_, from kernels::AllocateHugePages
  std::size_t weight_bytes_ = 0;
  // Handles per tensor, sized once (stable addresses); the ones of the other kind stay empty.
  std::vector<WeightMatrix> matrices_;
  std::vector<WeightVector> vectors_;
  std::deque<kernels::QuantWeights> quant_;       // the low-bit matrices' metadata
  std::vector<kernels::QuantWeights*> quant_of_;  // per tensor; into quant_
};

}  // namespace

std::size_t CpuBackend::UnitBytes(absl::Span<const UnitTensorShape> tensors) const {
  std::size_t end = 0;
  for (const UnitTensorShape& shape : tensors) end = AlignToWeightUnit(end) + TensorBytes(shape);
  return AlignToWeightUnit(end);
}

absl::StatusOr<std::unique_ptr<WeightUnit>> CpuBackend::NewWeightUnit(
    std::vector<UnitTensorSource> tensors) {
  for (const UnitTensorSource& source : tensors) {
    if (absl::Status s = CheckUnitSource(source, "CPU"); !s.ok()) return s;
  }
  return std::make_unique<CpuWeightUnit>(tensors);
}

}  // namespace ghost
