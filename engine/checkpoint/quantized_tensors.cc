#include "engine/checkpoint/quantized_tensors.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ghost {
namespace {

template <typename T>
absl::Span<const std::uint8_t> Bytes(const std::vector<T>& v) {
  return {reinterpret_cast<const std::uint8_t*>(v.data()), v.size() * sizeof(T)};
}

std::int64_t AsInt(std::size_t v) { return static_cast<std::int64_t>(v); }

// Copies tensor `name` (dtype and shape checked) into `out`.
template <typename T>
absl::Status ReadInto(const TensorLookup& lookup, const std::string& where, const std::string& name,
                      Dtype dtype, const std::vector<std::int64_t>& shape, std::vector<T>& out) {
  const TensorView* t = lookup(name);
  if (t == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": missing tensor ", name));
  }
  if (t->dtype != dtype || t->shape != shape) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": tensor ", name, " is ", DtypeName(t->dtype), " [", absl::StrJoin(t->shape, ", "),
        "], expected ", DtypeName(dtype), " [", absl::StrJoin(shape, ", "), "]"));
  }
  out.resize(t->nbytes / sizeof(T));
  std::memcpy(out.data(), t->data, t->nbytes);
  return absl::OkStatus();
}

}  // namespace

std::vector<TensorToWrite> QuantizedTensorsToWrite(const std::string& base,
                                                   const compress::QuantizedMatrix& m) {
  const std::int64_t rows = AsInt(m.rows);
  std::vector<TensorToWrite> tensors;
  tensors.push_back(
      {base + ".qweight", Dtype::kU8, {rows, AsInt(m.code_bytes_per_row())}, Bytes(m.codes)});
  tensors.push_back(
      {base + ".qscale", Dtype::kF16, {rows, AsInt(m.scales_per_row())}, Bytes(m.scales)});
  if (m.scale_scheme == compress::ScaleScheme::kTwoLevel) {
    tensors.push_back({base + ".qsubscale",
                       Dtype::kU8,
                       {rows, AsInt(m.sub_scale_bytes_per_row())},
                       Bytes(m.sub_scales)});
  }
  if (m.format == WeightFormat::kCodebook2Bit) {
    tensors.push_back(
        {base + ".qcodebook", Dtype::kF16, {AsInt(m.num_codebook_groups()), 4}, Bytes(m.codebook)});
  }
  return tensors;
}

bool HasQuantizedTensors(const TensorLookup& lookup, const std::string& base) {
  return lookup(base + ".qweight") != nullptr;
}

absl::StatusOr<compress::QuantizedMatrix> ReadQuantizedMatrix(const TensorLookup& lookup,
                                                              const std::string& where,
                                                              const std::string& base,
                                                              std::int64_t rows, std::int64_t cols,
                                                              const GhostQuantization& q) {
  compress::QuantizedMatrix m;
  m.rows = static_cast<std::size_t>(rows);
  m.cols = static_cast<std::size_t>(cols);
  m.format = q.format;
  m.block_size = q.block_size;
  m.scale_scheme = q.scale_scheme;
  m.sub_scale_bits = q.sub_scale_bits;
  m.codebook_group_rows = q.codebook_group_rows;
  absl::Status s = ReadInto(lookup, where, base + ".qweight", Dtype::kU8,
                            {rows, AsInt(m.code_bytes_per_row())}, m.codes);
  if (s.ok()) {
    s = ReadInto(lookup, where, base + ".qscale", Dtype::kF16, {rows, AsInt(m.scales_per_row())},
                 m.scales);
  }
  if (s.ok() && m.scale_scheme == compress::ScaleScheme::kTwoLevel) {
    s = ReadInto(lookup, where, base + ".qsubscale", Dtype::kU8,
                 {rows, AsInt(m.sub_scale_bytes_per_row())}, m.sub_scales);
  }
  if (s.ok() && m.format == WeightFormat::kCodebook2Bit) {
    s = ReadInto(lookup, where, base + ".qcodebook", Dtype::kF16,
                 {AsInt(m.num_codebook_groups()), 4}, m.codebook);
  }
  if (s.ok()) s = m.Validate();
  if (!s.ok()) {
    return absl::Status(s.code(), s.message().find(where) == 0
                                      ? std::string(s.message())
                                      : absl::StrCat(where, ": ", base, ": ", s.message()));
  }
  return m;
}

}  // namespace ghost
