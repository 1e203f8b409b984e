#include "engine/checkpoint/gguf_writer.h"

#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/checkpoint/gguf_types.h"
#include "engine/common/durable_file.h"

namespace ghost {
namespace {

void AppendLe(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(value >> (8 * i)));
}

void AppendString(std::string& out, const std::string& s) {
  AppendLe(out, s.size(), 8);
  out += s;
}

std::string Typed(GgufValueType type) {
  std::string out;
  AppendLe(out, static_cast<std::uint32_t>(type), 4);
  return out;
}

std::uint32_t FloatBits(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

std::string ArrayHeader(GgufValueType element, std::size_t count) {
  std::string out = Typed(GgufValueType::kArray);
  AppendLe(out, static_cast<std::uint32_t>(element), 4);
  AppendLe(out, count, 8);
  return out;
}

}  // namespace

GgufWriter::GgufWriter(std::uint32_t alignment) : alignment_(alignment) {
  if (alignment_ != 32) SetU32("general.alignment", alignment_);
}

void GgufWriter::Set(const std::string& key, std::string encoded) {
  for (Entry& entry : metadata_) {
    if (entry.key == key) {
      entry.encoded = std::move(encoded);
      return;
    }
  }
  metadata_.push_back({key, std::move(encoded)});
}

void GgufWriter::SetString(const std::string& key, const std::string& value) {
  std::string out = Typed(GgufValueType::kString);
  AppendString(out, value);
  Set(key, std::move(out));
}

void GgufWriter::SetU32(const std::string& key, std::uint32_t value) {
  std::string out = Typed(GgufValueType::kU32);
  AppendLe(out, value, 4);
  Set(key, std::move(out));
}

void GgufWriter::SetI32(const std::string& key, std::int32_t value) {
  std::string out = Typed(GgufValueType::kI32);
  AppendLe(out, static_cast<std::uint32_t>(value), 4);
  Set(key, std::move(out));
}

void GgufWriter::SetF32(const std::string& key, float value) {
  std::string out = Typed(GgufValueType::kF32);
  AppendLe(out, FloatBits(value), 4);
  Set(key, std::move(out));
}

void GgufWriter::SetBool(const std::string& key, bool value) {
  std::string out = Typed(GgufValueType::kBool);
  out.push_back(value ? 1 : 0);
  Set(key, std::move(out));
}

void GgufWriter::SetStringArray(const std::string& key, const std::vector<std::string>& values) {
  std::string out = ArrayHeader(GgufValueType::kString, values.size());
  for (const std::string& v : values) AppendString(out, v);
  Set(key, std::move(out));
}

void GgufWriter::SetI32Array(const std::string& key, const std::vector<std::int32_t>& values) {
  std::string out = ArrayHeader(GgufValueType::kI32, values.size());
  for (std::int32_t v : values) AppendLe(out, static_cast<std::uint32_t>(v), 4);
  Set(key, std::move(out));
}

void GgufWriter::SetF32Array(const std::string& key, const std::vector<float>& values) {
  std::string out = ArrayHeader(GgufValueType::kF32, values.size());
  for (float v : values) AppendLe(out, FloatBits(v), 4);
  Set(key, std::move(out));
}

absl::Status GgufWriter::AddTensor(const std::string& name, std::uint32_t ggml_type,
                                   const std::vector<std::int64_t>& dims,
                                   std::vector<std::uint8_t> bytes) {
  const std::optional<GgmlTypeInfo> info = FindGgmlType(ggml_type);
  if (!info)
    return absl::InvalidArgumentError(absl::StrCat("GGUF tensor ", name, ": unknown type"));
  for (const Tensor& t : tensors_) {
    if (t.name == name) {
      return absl::InvalidArgumentError(absl::StrCat("GGUF tensor ", name, " added twice"));
    }
  }
  std::int64_t elements = 1;
  for (std::int64_t d : dims) elements *= d;
  if (dims.empty() || dims[0] % info->block_size != 0 ||
      static_cast<std::uint64_t>(elements / info->block_size) * info->block_bytes != bytes.size()) {
    return absl::InvalidArgumentError(absl::StrCat("GGUF tensor ", name, ": ", bytes.size(),
                                                   " bytes do not fit its ", info->name, " shape"));
  }
  tensors_.push_back({name, ggml_type, dims, std::move(bytes)});
  return absl::OkStatus();
}

std::string GgufWriter::Serialize() const {
  const auto padded = [this](std::uint64_t n) {
    return (n + alignment_ - 1) / alignment_ * alignment_;
  };
  std::string out = "GGUF";
  AppendLe(out, 3, 4);
  AppendLe(out, tensors_.size(), 8);
  AppendLe(out, metadata_.size(), 8);
  for (const Entry& entry : metadata_) {
    AppendString(out, entry.key);
    out += entry.encoded;
  }
  std::uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    AppendString(out, t.name);
    AppendLe(out, t.dims.size(), 4);
    for (std::int64_t d : t.dims) AppendLe(out, static_cast<std::uint64_t>(d), 8);
    AppendLe(out, t.type, 4);
    AppendLe(out, offset, 8);
    offset = padded(offset + t.bytes.size());
  }
  out.resize(padded(out.size()), '\0');
  for (const Tensor& t : tensors_) {
    out.append(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
    out.resize(padded(out.size()), '\0');
  }
  return out;
}

absl::Status GgufWriter::WriteFile(const std::string& path) const {
  return WriteFileDurably(path, Serialize());
}

}  // namespace ghost
