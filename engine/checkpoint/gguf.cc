#include "engine/checkpoint/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/checkpoint/gguf_types.h"
#include "engine/common/status_macros.h"

namespace ghost {
namespace {

constexpr std::uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr std::uint32_t kDefaultAlignment = 32;
constexpr std::size_t kMaxTensorName = 63;  // ggml's GGML_MAX_NAME (64) less the terminator
constexpr int kMaxDims = 4;                 // GGML_MAX_DIMS
// Smallest encodings, to bound counts by the bytes that remain before anything is allocated:
// a key/value pair is an empty key (8), a type (4) and a u8 (1); a tensor info a name length (8),
// n_dims (4), one dim (8), a type (4) and an offset (8).
constexpr std::uint64_t kMinKvBytes = 13;
constexpr std::uint64_t kMinTensorInfoBytes = 32;

// Bytes of one element of a numeric or bool value type; 0 for string and array.
std::size_t ScalarSize(GgufValueType type) {
  switch (type) {
    case GgufValueType::kU8:
    case GgufValueType::kI8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kU16:
    case GgufValueType::kI16:
      return 2;
    case GgufValueType::kU32:
    case GgufValueType::kI32:
    case GgufValueType::kF32:
      return 4;
    case GgufValueType::kU64:
    case GgufValueType::kI64:
    case GgufValueType::kF64:
      return 8;
    case GgufValueType::kString:
    case GgufValueType::kArray:
      return 0;
  }
  return 0;
}

bool IsInteger(GgufValueType type) {
  return type != GgufValueType::kF32 && type != GgufValueType::kF64 &&
         type != GgufValueType::kString && type != GgufValueType::kArray;
}

std::uint64_t LoadLe(const std::uint8_t* p, std::size_t size) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < size; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

// The value of one numeric element: integers (and bools) into `integer`, reals into `real`.
void DecodeScalar(GgufValueType type, const std::uint8_t* p, std::int64_t& integer, double& real) {
  const std::uint64_t bits = LoadLe(p, ScalarSize(type));
  switch (type) {
    case GgufValueType::kI8:
      integer = static_cast<std::int8_t>(bits);
      break;
    case GgufValueType::kI16:
      integer = static_cast<std::int16_t>(bits);
      break;
    case GgufValueType::kI32:
      integer = static_cast<std::int32_t>(bits);
      break;
    case GgufValueType::kF32: {
      const auto b32 = static_cast<std::uint32_t>(bits);
      float f;
      std::memcpy(&f, &b32, sizeof(f));
      real = f;
      break;
    }
    case GgufValueType::kF64:
      std::memcpy(&real, &bits, sizeof(real));
      break;
    default:  // unsigned integers, bool, i64: the bits
      integer = static_cast<std::int64_t>(bits);
      break;
  }
}

// Reads the header front to back; every read checks the bytes that remain.
class Parser {
 public:
  Parser(const std::uint8_t* data, std::size_t size, const std::string& name)
      : data_(data), size_(size), name_(name) {}

  std::size_t position() const { return pos_; }
  std::uint64_t remaining() const { return size_ - pos_; }

  absl::Status Error(absl::string_view context, absl::string_view problem) const {
    return absl::InvalidArgumentError(absl::StrCat(name_, ": ", context, ": ", problem));
  }

  absl::StatusOr<std::uint64_t> Unsigned(std::size_t bytes, absl::string_view context) {
    if (remaining() < bytes) {
      return Error(context, absl::StrFormat("file ends at byte %d", size_));
    }
    const std::uint64_t v = LoadLe(data_ + pos_, bytes);
    pos_ += bytes;
    return v;
  }

  absl::StatusOr<std::string> String(absl::string_view context) {
    GHOST_ASSIGN_OR_RETURN(const std::uint64_t length, Unsigned(8, context));
    if (length > remaining()) {
      return Error(context,
                   absl::StrFormat("string length %d exceeds the %d bytes left in the file", length,
                                   remaining()));
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), length);
    pos_ += length;
    return s;
  }

  const std::uint8_t* Skip(std::uint64_t bytes) {  // caller checked remaining()
    const std::uint8_t* p = data_ + pos_;
    pos_ += bytes;
    return p;
  }

  absl::StatusOr<GgufValueType> Type(absl::string_view context) {
    GHOST_ASSIGN_OR_RETURN(const std::uint64_t raw, Unsigned(4, context));
    if (raw > static_cast<std::uint64_t>(GgufValueType::kF64)) {
      return Error(context, absl::StrCat("unknown value type ", raw));
    }
    return static_cast<GgufValueType>(raw);
  }

  // A scalar or an array, after its type.
  absl::StatusOr<GgufValue> Value(GgufValueType type, absl::string_view context) {
    GgufValue value;
    value.type = type;
    if (type == GgufValueType::kString) {
      GHOST_ASSIGN_OR_RETURN(value.text, String(context));
      return value;
    }
    if (type == GgufValueType::kArray) {
      GHOST_ASSIGN_OR_RETURN(value.element_type, Type(context));
      GHOST_ASSIGN_OR_RETURN(value.count, Unsigned(8, context));
      if (value.element_type == GgufValueType::kArray) {
        return Error(context, "arrays of arrays are not supported");
      }
      if (value.element_type == GgufValueType::kString) {
        if (value.count > remaining() / 8) {
          return Error(context,
                       absl::StrFormat("array of %d strings exceeds the file", value.count));
        }
        value.strings.reserve(value.count);
        for (std::uint64_t i = 0; i < value.count; ++i) {
          GHOST_ASSIGN_OR_RETURN(std::string s, String(context));
          value.strings.push_back(std::move(s));
        }
        return value;
      }
      const std::size_t element = ScalarSize(value.element_type);
      if (value.count > remaining() / element) {
        return Error(context, absl::StrFormat("array of %d %s values exceeds the file", value.count,
                                              GgufValueTypeName(value.element_type)));
      }
      value.elements = Skip(value.count * element);
      if (value.element_type == GgufValueType::kBool) {
        for (std::uint64_t i = 0; i < value.count; ++i) {
          if (value.elements[i] > 1) return Error(context, "bool element is neither 0 nor 1");
        }
      }
      return value;
    }
    const std::size_t size = ScalarSize(type);
    if (remaining() < size) return Error(context, "value runs past the end of the file");
    DecodeScalar(type, Skip(size), value.integer, value.real);
    if (type == GgufValueType::kBool && value.integer > 1) {
      return Error(context, "bool value is neither 0 nor 1");
    }
    return value;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  const std::string& name_;
};

std::string BaseName(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool MultiplyChecked(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
  return !__builtin_mul_overflow(a, b, &out);
}

}  // namespace

const char* GgufValueTypeName(GgufValueType type) {
  static constexpr const char* kNames[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                           "bool", "string", "array", "u64", "i64", "f64"};
  const auto index = static_cast<std::size_t>(type);
  return index < std::size(kNames) ? kNames[index] : "unknown";
}

std::string SanitizedName(absl::string_view name) {
  constexpr std::size_t kMaxShown = 80;
  std::string out;
  for (const char c : name) {
    if (out.size() >= kMaxShown) {
      out += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && c != '\\') {
      out += c;
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", byte);
    }
  }
  return out;
}

std::int64_t GgufTensor::num_elements() const {
  std::int64_t n = 1;
  for (std::int64_t d : dims) n *= d;
  return n;
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  absl::StatusOr<std::unique_ptr<MappedFile>> file = MappedFile::Open(path);
  if (!file.ok()) return file.status();
  absl::StatusOr<std::unique_ptr<GgufFile>> gguf =
      FromBytes((*file)->data(), (*file)->size(), BaseName(path));
  if (!gguf.ok()) return gguf.status();
  (*gguf)->file_ = *std::move(file);
  return gguf;
}

absl::StatusOr<std::unique_ptr<GgufFile>> GgufFile::FromBytes(const std::uint8_t* bytes,
                                                              std::size_t size,
                                                              const std::string& name) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->name_ = name;
  Parser p(bytes, size, file->name_);

  GHOST_ASSIGN_OR_RETURN(const std::uint64_t magic, p.Unsigned(4, "header"));
  if (magic != kMagic) return p.Error("header", "not a GGUF file (bad magic)");
  GHOST_ASSIGN_OR_RETURN(const std::uint64_t version, p.Unsigned(4, "header"));
  if (version != 2 && version != 3) {
    if (version != 0 && (version & 0xffff) == 0) {
      return p.Error("header", "big-endian GGUF files are not supported");
    }
    return p.Error("header", absl::StrCat("GGUF version ", version,
                                          " is not supported (versions 2 and 3 are)"));
  }
  file->version_ = static_cast<std::uint32_t>(version);
  GHOST_ASSIGN_OR_RETURN(const std::uint64_t tensor_count, p.Unsigned(8, "header"));
  GHOST_ASSIGN_OR_RETURN(const std::uint64_t kv_count, p.Unsigned(8, "header"));
  if (kv_count > p.remaining() / kMinKvBytes) {
    return p.Error("header",
                   absl::StrFormat("%d metadata entries cannot fit in the file", kv_count));
  }

  for (std::uint64_t i = 0; i < kv_count; ++i) {
    const std::string where = absl::StrCat("metadata entry ", i);
    GHOST_ASSIGN_OR_RETURN(std::string key, p.String(where));
    const std::string context = absl::StrCat("metadata key \"", SanitizedName(key), "\"");
    GHOST_ASSIGN_OR_RETURN(const GgufValueType type, p.Type(context));
    GHOST_ASSIGN_OR_RETURN(GgufValue value, p.Value(type, context));
    if (file->metadata_.count(key) != 0) return p.Error(context, "duplicate key");
    file->metadata_.emplace(std::move(key), std::move(value));
  }

  if (const GgufValue* alignment = file->Find("general.alignment")) {
    const std::string context = "metadata key \"general.alignment\"";
    if (alignment->type != GgufValueType::kU32) {
      return p.Error(context,
                     absl::StrCat("is ", GgufValueTypeName(alignment->type), ", expected u32"));
    }
    const auto a = static_cast<std::uint64_t>(alignment->integer);
    if (a == 0 || (a & (a - 1)) != 0) {
      return p.Error(context, absl::StrCat(a, " is not a power of two"));
    }
    file->alignment_ = static_cast<std::uint32_t>(a);
  } else {
    file->alignment_ = kDefaultAlignment;
  }

  if (tensor_count > p.remaining() / kMinTensorInfoBytes) {
    return p.Error("header",
                   absl::StrFormat("%d tensor infos cannot fit in the file", tensor_count));
  }
  file->tensors_.reserve(tensor_count);
  for (std::uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensor t;
    GHOST_ASSIGN_OR_RETURN(t.name, p.String(absl::StrCat("tensor info ", i)));
    const std::string context = absl::StrCat("tensor \"", SanitizedName(t.name), "\"");
    if (t.name.size() > kMaxTensorName) {
      return p.Error(context, absl::StrCat("name longer than ", kMaxTensorName, " bytes"));
    }
    GHOST_ASSIGN_OR_RETURN(const std::uint64_t n_dims, p.Unsigned(4, context));
    if (n_dims < 1 || n_dims > kMaxDims) {
      return p.Error(context, absl::StrCat(n_dims, " dimensions (1 to ", kMaxDims, " allowed)"));
    }
    std::uint64_t elements = 1;
    for (std::uint64_t d = 0; d < n_dims; ++d) {
      GHOST_ASSIGN_OR_RETURN(const std::uint64_t dim, p.Unsigned(8, context));
      if (!MultiplyChecked(elements, dim, elements) ||
          elements > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return p.Error(context, "element count overflows");
      }
      t.dims.push_back(static_cast<std::int64_t>(dim));
    }
    GHOST_ASSIGN_OR_RETURN(const std::uint64_t type, p.Unsigned(4, context));
    const std::optional<GgmlTypeInfo> info = FindGgmlType(static_cast<std::uint32_t>(type));
    if (type > std::numeric_limits<std::uint32_t>::max() || !info) {
      return p.Error(context, absl::StrCat("unknown ggml type ", type));
    }
    t.type = info->id;
    if (t.dims[0] % info->block_size != 0) {
      return p.Error(context, absl::StrCat("first dimension ", t.dims[0], " is not a multiple of ",
                                           info->name, "'s block of ", info->block_size));
    }
    std::uint64_t nbytes = 0;
    if (!MultiplyChecked(elements / info->block_size, info->block_bytes, nbytes) || nbytes > size) {
      return p.Error(context, "data size exceeds the file");
    }
    t.nbytes = nbytes;
    GHOST_ASSIGN_OR_RETURN(t.offset, p.Unsigned(8, context));
    if (t.offset % file->alignment_ != 0) {
      return p.Error(context, absl::StrCat("offset ", t.offset, " is not a multiple of the ",
                                           file->alignment_, "-byte alignment"));
    }
    if (file->tensor_index_.count(t.name) != 0) return p.Error(context, "duplicate tensor name");
    file->tensor_index_.emplace(t.name, file->tensors_.size());
    file->tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment.
  const std::uint64_t header_end = p.position();
  const std::uint64_t data_start =
      (header_end + file->alignment_ - 1) / file->alignment_ * file->alignment_;
  const std::uint64_t data_bytes = data_start <= size ? size - data_start : 0;
  std::vector<const GgufTensor*> by_offset;
  for (GgufTensor& t : file->tensors_) {
    if (t.offset > data_bytes || t.nbytes > data_bytes - t.offset) {
      return p.Error(absl::StrCat("tensor \"", SanitizedName(t.name), "\""),
                     absl::StrFormat("data [%d, %d) lies outside the %d-byte data section",
                                     t.offset, t.offset + t.nbytes, data_bytes));
    }
    if (t.nbytes > 0) {
      t.data = bytes + data_start + t.offset;
      by_offset.push_back(&t);
    }
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i - 1]->offset + by_offset[i - 1]->nbytes > by_offset[i]->offset) {
      return p.Error(
          absl::StrCat("tensor \"", SanitizedName(by_offset[i]->name), "\""),
          absl::StrCat("data overlaps tensor \"", SanitizedName(by_offset[i - 1]->name), "\""));
    }
  }
  return file;
}

const GgufValue* GgufFile::Find(absl::string_view key) const {
  const auto it = metadata_.find(std::string(key));
  return it == metadata_.end() ? nullptr : &it->second;
}

const GgufTensor* GgufFile::FindTensor(absl::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

absl::Status GgufFile::KeyError(absl::string_view key, const GgufValue& value,
                                const char* expected) const {
  std::string stored = GgufValueTypeName(value.type);
  if (value.type == GgufValueType::kArray) {
    stored = absl::StrCat("array of ", GgufValueTypeName(value.element_type));
  }
  return absl::InvalidArgumentError(absl::StrCat(name_, ": metadata key \"", SanitizedName(key),
                                                 "\" is ", stored, ", expected ", expected));
}

absl::StatusOr<const GgufValue*> GgufFile::Require(absl::string_view key) const {
  const GgufValue* value = Find(key);
  if (value == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(name_, ": metadata key \"", SanitizedName(key), "\" is missing"));
  }
  return value;
}

absl::StatusOr<std::string> GgufFile::GetString(absl::string_view key) const {
  GHOST_ASSIGN_OR_RETURN(const GgufValue* value, Require(key));
  if (value->type != GgufValueType::kString) return KeyError(key, *value, "string");
  return value->text;
}

absl::StatusOr<std::int64_t> GgufFile::GetInt(absl::string_view key) const {
  GHOST_ASSIGN_OR_RETURN(const GgufValue* value, Require(key));
  if (!IsInteger(value->type) || value->type == GgufValueType::kBool) {
    return KeyError(key, *value, "an integer");
  }
  if (value->type == GgufValueType::kU64 && value->integer < 0) {
    return KeyError(key, *value, "an integer below 2^63");
  }
  return value->integer;
}

absl::StatusOr<double> GgufFile::GetReal(absl::string_view key) const {
  GHOST_ASSIGN_OR_RETURN(const GgufValue* value, Require(key));
  if (value->type == GgufValueType::kF32 || value->type == GgufValueType::kF64) {
    return value->real;
  }
  if (IsInteger(value->type) && value->type != GgufValueType::kBool) {
    return static_cast<double>(value->integer);
  }
  return KeyError(key, *value, "a number");
}

absl::StatusOr<bool> GgufFile::GetBool(absl::string_view key) const {
  GHOST_ASSIGN_OR_RETURN(const GgufValue* value, Require(key));
  if (value->type != GgufValueType::kBool) return KeyError(key, *value, "bool");
  return value->integer != 0;
}

absl::StatusOr<std::int64_t> GgufFile::GetOptionalInt(absl::string_view key,
                                                      std::int64_t fallback) const {
  return Find(key) == nullptr ? fallback : GetInt(key);
}

absl::StatusOr<double> GgufFile::GetOptionalReal(absl::string_view key, double fallback) const {
  return Find(key) == nullptr ? fallback : GetReal(key);
}

absl::StatusOr<bool> GgufFile::GetOptionalBool(absl::string_view key, bool fallback) const {
  return Find(key) == nullptr ? fallback : GetBool(key);
}

absl::StatusOr<std::vector<std::string>> GgufFile::GetStringArray(absl::string_view key) const {
  GHOST_ASSIGN_OR_RETURN(const GgufValue* value, Require(key));
  if (value->type != GgufValueType::kArray || value->element_type != GgufValueType::kString) {
    return KeyError(key, *value, "array of string");
  }
  return value->strings;
}

absl::StatusOr<std::vector<std::int64_t>> GgufFile::GetIntArray(absl::string_view key) const {
  GHOST_ASSIGN_OR_RETURN(const GgufValue* value, Require(key));
  if (value->type != GgufValueType::kArray || !IsInteger(value->element_type)) {
    return KeyError(key, *value, "array of integers");
  }
  const std::size_t size = ScalarSize(value->element_type);
  std::vector<std::int64_t> out(value->count);
  double unused = 0;
  for (std::uint64_t i = 0; i < value->count; ++i) {
    DecodeScalar(value->element_type, value->elements + i * size, out[i], unused);
    if (value->element_type == GgufValueType::kU64 && out[i] < 0) {
      return KeyError(key, *value, "integers below 2^63");
    }
  }
  return out;
}

absl::StatusOr<std::vector<float>> GgufFile::GetRealArray(absl::string_view key) const {
  GHOST_ASSIGN_OR_RETURN(const GgufValue* value, Require(key));
  if (value->type != GgufValueType::kArray || value->element_type == GgufValueType::kString ||
      value->element_type == GgufValueType::kBool) {
    return KeyError(key, *value, "array of numbers");
  }
  const std::size_t size = ScalarSize(value->element_type);
  std::vector<float> out(value->count);
  for (std::uint64_t i = 0; i < value->count; ++i) {
    std::int64_t integer = 0;
    double real = 0;
    DecodeScalar(value->element_type, value->elements + i * size, integer, real);
    out[i] =
        IsInteger(value->element_type) ? static_cast<float>(integer) : static_cast<float>(real);
  }
  return out;
}

}  // namespace ghost
