// The CUDA backend's weight units: the unit's bytes are laid out on the host (fp32 vectors, dense
// matrices as stored, low-bit matrices as codes | fp16 scales | fp16 codebook, each part at
// kWeightUnitAlignment) and copied to one device allocation; data() is that device copy. The
// kernels' descriptors (kernels/cuda/device_weights.h) stay on the host with the handles.
#include <cstring>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/backend/cuda/cuda_backend_impl.h"

namespace ghost::cuda_backend {
namespace {

// Where a low-bit matrix's parts sit, from the tensor's offset.
struct QuantParts {
  std::size_t codes = 0, scales = 0, codebook = 0, end = 0;
};

// The parts as CheckSource's Validate requires them: codes, one fp16 scale per block, and a
// codebook's 4 fp16 entries per row group.
QuantParts PartsOf(const UnitTensorShape& shape) {
  const compress::QuantizedMatrix m = QuantLayoutOf(shape);
  QuantParts parts;
  parts.scales = AlignToWeightUnit(m.rows * m.code_bytes_per_row());
  parts.codebook =
      AlignToWeightUnit(parts.scales + m.rows * m.blocks_per_row() * sizeof(std::uint16_t));
  parts.end = parts.codebook + 4 * m.num_codebook_groups() * sizeof(std::uint16_t);
  return parts;
}

std::size_t TensorBytes(const UnitTensorShape& shape) {
  switch (shape.kind) {
    case UnitTensorSource::Kind::kVector:
      return shape.cols * sizeof(float);
    case UnitTensorSource::Kind::kDense:
      return shape.rows * shape.cols * (shape.format == WeightFormat::kF32 ? 4 : 2);
    case UnitTensorSource::Kind::kQuant:
      return PartsOf(shape).end;
  }
  return 0;
}

// The units every backend holds (CheckUnitSource), low-bit matrices also checked for consistency:
// a kernel reads their parts without bounds.
absl::Status CheckSource(const UnitTensorSource& source) {
  if (absl::Status s = CheckUnitSource(source, "CUDA"); !s.ok()) return s;
  return source.kind == UnitTensorSource::Kind::kQuant ? source.quant.Validate() : absl::OkStatus();
}

class CudaWeightUnit final : public WeightUnit {
 public:
  // Lays out and uploads `sources`; errors are the device's (RESOURCE_EXHAUSTED when full).
  static absl::StatusOr<std::unique_ptr<CudaWeightUnit>> Create(
      const std::vector<UnitTensorSource>& sources, int device) {
    auto unit = std::unique_ptr<CudaWeightUnit>(new CudaWeightUnit(sources.size()));
    std::vector<std::byte> host(unit->LayOut(sources));
    unit->PlaceAll(sources, host.data());
    if (absl::Status s = kc::SetDevice(device); !s.ok()) return s;
    absl::StatusOr<kc::DeviceBuffer> buffer = kc::DeviceBuffer::Allocate(host.size());
    if (!buffer.ok()) return buffer.status();
    unit->buffer_ = *std::move(buffer);
    // The legacy stream, synchronously: loading is not on the step's path.
    if (absl::Status s = kc::CopyToDevice(unit->buffer_.data(), host.data(), host.size(), nullptr);
        !s.ok()) {
      return s;
    }
    // The lanes' non-blocking streams do not order after the legacy one: wait for the copy.
    if (absl::Status s = kc::Stream().Synchronize(); !s.ok()) return s;
    unit->Rebind(nullptr);
    return unit;
  }

  // Lays `sources` out in `image` only (NewHostImageUnit).
  static std::unique_ptr<CudaWeightUnit> CreateInHost(const std::vector<UnitTensorSource>& sources,
                                                      std::byte* image) {
    auto unit = std::unique_ptr<CudaWeightUnit>(new CudaWeightUnit(sources.size()));
    std::memset(image, 0, unit->LayOut(sources));  // padding included: equal weights, equal bytes
    unit->PlaceAll(sources, image);
    return unit;
  }

  const std::byte* data() const override { return buffer_.as<std::byte>(); }
  std::size_t bytes() const override { return bytes_; }
  absl::Span<const Tensor> tensors() const override { return table_; }
  std::size_t weight_bytes() const override { return weight_bytes_; }
  const WeightMatrix& matrix(std::size_t i) const override { return matrices_[i]; }
  const WeightVector& vector(std::size_t i) const override { return vectors_[i]; }

  void ReleaseBytes() override { buffer_ = kc::DeviceBuffer(); }

  void Rebind(const std::byte* copy) override {
    const std::byte* base = copy != nullptr ? copy : data();
    for (std::size_t i = 0; i < table_.size(); ++i) {
      const std::byte* at = base == nullptr ? nullptr : base + table_[i].offset;
      switch (kinds_[i]) {
        case UnitTensorSource::Kind::kVector:
          vectors_[i].data = reinterpret_cast<const float*>(at);
          break;
        case UnitTensorSource::Kind::kDense:
          descriptors_[i].data = at;
          break;
        case UnitTensorSource::Kind::kQuant:
          descriptors_[i].data = at;
          descriptors_[i].scales =
              at == nullptr ? nullptr
                            : reinterpret_cast<const std::uint16_t*>(at + parts_[i].scales);
          descriptors_[i].codebook =
              at == nullptr || descriptors_[i].codebook_group_rows == 0
                  ? nullptr
                  : reinterpret_cast<const std::uint16_t*>(at + parts_[i].codebook);
          break;
      }
    }
  }

 private:
  explicit CudaWeightUnit(std::size_t count)
      : kinds_(count), parts_(count), descriptors_(count), matrices_(count), vectors_(count) {}

  // Sets the table of `sources` and bytes_: the image's size.
  std::size_t LayOut(const std::vector<UnitTensorSource>& sources) {
    std::size_t end = 0;
    for (const UnitTensorSource& source : sources) {
      table_.push_back({source.name, AlignToWeightUnit(end), TensorBytes(ShapeOf(source))});
      end = table_.back().offset + table_.back().bytes;
    }
    bytes_ = AlignToWeightUnit(end);
    return bytes_;
  }
  void PlaceAll(const std::vector<UnitTensorSource>& sources, std::byte* host) {
    for (std::size_t i = 0; i < sources.size(); ++i) Place(i, sources[i], host);
  }

  // Writes source i's bytes into the host image and sets up its handle (pointers set by Rebind).
  void Place(std::size_t i, const UnitTensorSource& source, std::byte* host) {
    std::byte* at = host + table_[i].offset;
    kinds_[i] = source.kind;
    kc::DeviceWeights& d = descriptors_[i];
    switch (source.kind) {
      case UnitTensorSource::Kind::kVector:
        std::memcpy(at, source.values.data(), table_[i].bytes);
        vectors_[i].size = source.values.size();
        weight_bytes_ += table_[i].bytes;
        return;
      case UnitTensorSource::Kind::kDense:
        if (table_[i].bytes > 0) std::memcpy(at, source.bytes, table_[i].bytes);
        d.format = source.format;
        d.rows = source.rows;
        d.cols = source.cols;
        matrices_[i] = WeightMatrix{source.format, &d, source.rows, source.cols};
        weight_bytes_ += table_[i].bytes;
        return;
      case UnitTensorSource::Kind::kQuant: {
        const compress::QuantizedMatrix& m = source.quant;
        parts_[i] = PartsOf(ShapeOf(source));
        std::memcpy(at, m.codes.data(), m.codes.size());
        std::memcpy(at + parts_[i].scales, m.scales.data(), m.scales.size() * 2);
        std::memcpy(at + parts_[i].codebook, m.codebook.data(), m.codebook.size() * 2);
        d.format = m.format;
        d.rows = m.rows;
        d.cols = m.cols;
        d.block_size = m.block_size;
        d.codebook_group_rows = m.codebook.empty() ? 0 : m.codebook_group_rows;
        matrices_[i] = WeightMatrix{m.format, &d, m.rows, m.cols};
        weight_bytes_ += m.codes.size() + (m.scales.size() + m.codebook.size()) * 2;
        return;
      }
    }
  }

  std::vector<Tensor> table_;
  std::vector<UnitTensorSource::Kind> kinds_;
  std::vector<QuantParts> parts_;               // kQuant tensors only
  std::vector<kc::DeviceWeights> descriptors_;  // matrices; sized once (stable addresses)
  std::vector<WeightMatrix> matrices_;
  std::vector<WeightVector> vectors_;
  std::size_t weight_bytes_ = 0;
  std::size_t bytes_ = 0;  // stays after ReleaseBytes
  kc::DeviceBuffer buffer_;
};

}  // namespace

std::size_t CudaBackend::UnitBytes(absl::Span<const UnitTensorShape> tensors) const {
  std::size_t end = 0;
  for (const UnitTensorShape& shape : tensors) end = AlignToWeightUnit(end) + TensorBytes(shape);
  return AlignToWeightUnit(end);
}

absl::StatusOr<std::unique_ptr<WeightUnit>> NewHostImageUnit(
    const std::vector<UnitTensorSource>& tensors, std::byte* image) {
  for (const UnitTensorSource& source : tensors) {
    if (absl::Status s = CheckSource(source); !s.ok()) return s;
  }
  return std::unique_ptr<WeightUnit>(CudaWeightUnit::CreateInHost(tensors, image));
}

absl::StatusOr<std::unique_ptr<WeightUnit>> CudaBackend::NewWeightUnit(
    std::vector<UnitTensorSource> tensors) {
  for (const UnitTensorSource& source : tensors) {
    if (absl::Status s = CheckSource(source); !s.ok()) return s;
  }
  absl::StatusOr<std::unique_ptr<CudaWeightUnit>> unit = CudaWeightUnit::Create(tensors, device_);
  if (!unit.ok()) return unit.status();
  return std::unique_ptr<WeightUnit>(*std::move(unit));
}

}  // namespace ghost::cuda_backend
