// A memory-mapped GGUF file (llama.cpp's model format), version 3 (and 2, the same layout),
// little-endian:
//   "GGUF", u32 version, u64 tensor_count, u64 metadata_kv_count,
//   kv_count x (string key, u32 value type, value),
//   tensor_count x (string name, u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset),
//   padding to general.alignment (u32, a power of two, default 32), the data section.
// A string is a u64 length and that many bytes; an array a u32 element type, a u64 count and the
// elements. Tensor offsets are relative to the data section and aligned; dims[0] is the fastest
// varying (a [rows, cols] matrix has dims {cols, rows}).
//
// The parser trusts nothing: every count, length, size and offset is checked for overflow and
// against the bytes that remain before it is used, so a crafted file is an INVALID_ARGUMENT,
// never a read outside the mapping or an allocation the file cannot back. Errors name the file
// by its base name and say which key or tensor is wrong (names sanitized and truncated); they
// never quote other bytes of the file.
#ifndef GHOST_ENGINE_CHECKPOINT_GGUF_H_
#define GHOST_ENGINE_CHECKPOINT_GGUF_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/common/mapped_file.h"

namespace ghost {

enum class GgufValueType : std::uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

const char* GgufValueTypeName(GgufValueType type);

// One metadata value. Scalars: an integer or bool in `integer` (u64 values above INT64_MAX keep
// their bits; `type` tells), a float in `real`, a string in `text`. Arrays: element_type and
// count; string elements in `strings`, numeric ones (little-endian, unaligned) at `elements` in
// the mapping. Arrays of arrays are refused, as llama.cpp does.
struct GgufValue {
  GgufValueType type = GgufValueType::kU8;
  std::int64_t integer = 0;
  double real = 0.0;
  std::string text;
  GgufValueType element_type = GgufValueType::kU8;
  std::uint64_t count = 0;
  std::vector<std::string> strings;
  const std::uint8_t* elements = nullptr;
};

struct GgufTensor {
  std::string name;
  std::uint32_t type = 0;          // ggml type id (gguf_types.h)
  std::vector<std::int64_t> dims;  // ggml order, 1 to 4 of them
  std::uint64_t offset = 0;        // into the data section
  const std::uint8_t* data = nullptr;
  std::size_t nbytes = 0;

  std::int64_t num_elements() const;
};

class GgufFile {
 public:
  // Maps and validates the file. NOT_FOUND for a missing file.
  static absl::StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Validates an image in memory; views point into `bytes`, which must outlive the result.
  // `name` names it in messages.
  static absl::StatusOr<std::unique_ptr<GgufFile>> FromBytes(const std::uint8_t* bytes,
                                                             std::size_t size,
                                                             const std::string& name);

  std::uint32_t version() const { return version_; }
  std::uint32_t alignment() const { return alignment_; }
  const std::string& name() const { return name_; }

  // Metadata, by key. nullptr when absent.
  const GgufValue* Find(absl::string_view key) const;
  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }

  // Typed reads: NOT_FOUND naming the key when absent (the Optional* variants keep `fallback`),
  // INVALID_ARGUMENT naming the key and both types when the stored type does not fit.
  absl::StatusOr<std::string> GetString(absl::string_view key) const;
  // Any integer type whose value fits in an int64.
  absl::StatusOr<std::int64_t> GetInt(absl::string_view key) const;
  // f32, f64, or an integer.
  absl::StatusOr<double> GetReal(absl::string_view key) const;
  absl::StatusOr<bool> GetBool(absl::string_view key) const;
  absl::StatusOr<std::int64_t> GetOptionalInt(absl::string_view key, std::int64_t fallback) const;
  absl::StatusOr<double> GetOptionalReal(absl::string_view key, double fallback) const;
  absl::StatusOr<bool> GetOptionalBool(absl::string_view key, bool fallback) const;
  // Arrays: strings; integers (any integer or bool element type, each fitting an int64); reals
  // (f32, f64 or integer elements).
  absl::StatusOr<std::vector<std::string>> GetStringArray(absl::string_view key) const;
  absl::StatusOr<std::vector<std::int64_t>> GetIntArray(absl::string_view key) const;
  absl::StatusOr<std::vector<float>> GetRealArray(absl::string_view key) const;

  // nullptr when absent.
  const GgufTensor* FindTensor(absl::string_view name) const;
  const std::vector<GgufTensor>& tensors() const { return tensors_; }  // in file order

 private:
  GgufFile() = default;
  absl::Status KeyError(absl::string_view key, const GgufValue& value, const char* expected) const;
  absl::StatusOr<const GgufValue*> Require(absl::string_view key) const;

  std::string name_;
  std::unique_ptr<MappedFile> file_;  // null for FromBytes
  std::uint32_t version_ = 0;
  std::uint32_t alignment_ = 32;
  std::map<std::string, GgufValue> metadata_;
  std::vector<GgufTensor> tensors_;
  absl::flat_hash_map<std::string, std::size_t> tensor_index_;
};

// A key or tensor name as messages show it: printable ASCII kept, other bytes as \xNN, at most
// 80 characters.
std::string SanitizedName(absl::string_view name);

}  // namespace ghost

#endif  // GHOST_ENGINE_CHECKPOINT_GGUF_H_
