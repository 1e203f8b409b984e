#include "engine/checkpoint/safetensors.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/common/json.h"
#include "engine/common/status_macros.h"
#include "engine/common/utf8.h"

namespace ghost {
namespace {

using Json = nlohmann::json;

// The reference implementation's limit; larger claims are corrupt or hostile.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeInfo {
  Dtype dtype;
  const char* name;
  std::size_t size;
};
constexpr std::array<DtypeInfo, 13> kDtypes = {{
    {Dtype::kBool, "BOOL", 1},
    {Dtype::kU8, "U8", 1},
    {Dtype::kI8, "I8", 1},
    {Dtype::kI16, "I16", 2},
    {Dtype::kU16, "U16", 2},
    {Dtype::kF16, "F16", 2},
    {Dtype::kBF16, "BF16", 2},
    {Dtype::kI32, "I32", 4},
    {Dtype::kU32, "U32", 4},
    {Dtype::kF32, "F32", 4},
    {Dtype::kI64, "I64", 8},
    {Dtype::kU64, "U64", 8},
    {Dtype::kF64, "F64", 8},
}};
static_assert(static_cast<std::size_t>(Dtype::kF64) + 1 == kDtypes.size(),
              "kDtypes must cover the Dtype enum, in order");

absl::Status HeaderError(const std::string& path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

absl::Status TensorError(const std::string& path, absl::string_view tensor,
                         absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": tensor \"", tensor, "\": ", message));
}

bool IsUnsigned(const Json& value) {
  return value.is_number_unsigned() ||
         (value.is_number_integer() && value.get<std::int64_t>() >= 0);
}

// Offsets are relative to the start of the data section.
struct Entry {
  TensorView view;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

absl::StatusOr<Entry> ParseEntry(const std::string& path, const std::string& name,
                                 const Json& info) {
  Entry entry;
  entry.view.name = name;
  if (!info.is_object()) return TensorError(path, name, "entry is not a JSON object");
  if (!info.contains("dtype") || !info["dtype"].is_string()) {
    return TensorError(path, name, "missing or non-string \"dtype\"");
  }
  const std::string dtype_name = info["dtype"].get<std::string>();
  const std::optional<Dtype> dtype = DtypeFromName(dtype_name);
  if (!dtype) return TensorError(path, name, absl::StrCat("unknown dtype \"", dtype_name, "\""));
  entry.view.dtype = *dtype;

  if (!info.contains("shape") || !info["shape"].is_array()) {
    return TensorError(path, name, "missing or non-array \"shape\"");
  }
  std::uint64_t elements = 1;
  for (const Json& dim : info["shape"]) {
    if (!IsUnsigned(dim)) {
      return TensorError(path, name, "shape entries must be non-negative integers");
    }
    const auto n = dim.get<std::uint64_t>();
    if (n > static_cast<std::uint64_t>(INT64_MAX) ||
        __builtin_mul_overflow(elements, n, &elements)) {
      return TensorError(path, name, "shape product overflows");
    }
    entry.view.shape.push_back(static_cast<std::int64_t>(n));
  }
  std::uint64_t expected_bytes = 0;
  if (__builtin_mul_overflow(elements, DtypeSize(*dtype), &expected_bytes)) {
    return TensorError(path, name, "shape product times dtype size overflows");
  }

  const Json* offsets = info.contains("data_offsets") ? &info["data_offsets"] : nullptr;
  if (offsets == nullptr || !offsets->is_array() || offsets->size() != 2 ||
      !IsUnsigned((*offsets)[0]) || !IsUnsigned((*offsets)[1])) {
    return TensorError(path, name, "\"data_offsets\" must be [begin, end] non-negative integers");
  }
  entry.begin = (*offsets)[0].get<std::uint64_t>();
  entry.end = (*offsets)[1].get<std::uint64_t>();
  if (entry.begin > entry.end) {
    return TensorError(path, name,
                       absl::StrCat("data_offsets begin ", entry.begin, " > end ", entry.end));
  }
  if (entry.end - entry.begin != expected_bytes) {
    return TensorError(path, name,
                       absl::StrCat("shape and dtype ", dtype_name, " need ", expected_bytes,
                                    " bytes but data_offsets span ", entry.end - entry.begin));
  }
  entry.view.nbytes = static_cast<std::size_t>(expected_bytes);
  return entry;
}

absl::Status ParseMetadata(const std::string& path, const Json& value,
                           std::map<std::string, std::string>& out) {
  if (!value.is_object()) return HeaderError(path, "__metadata__ must be a string->string map");
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      return HeaderError(path, absl::StrCat("__metadata__ must be a string->string map; \"", key,
                                            "\" is ", JsonSnippet(item)));
    }
    out[key] = item.get<std::string>();
  }
  return absl::OkStatus();
}

// Tensors sorted by offset must tile [0, data_size) exactly: no gap, no overlap.
absl::Status CheckCoverage(const std::string& path, std::vector<Entry>& entries,
                           std::uint64_t data_size) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  std::uint64_t cursor = 0;
  for (const Entry& entry : entries) {
    if (entry.end > data_size) {
      return TensorError(path, entry.view.name,
                         absl::StrCat("data_offsets [", entry.begin, ", ", entry.end,
                                      "] out of bounds of the ", data_size, "-byte data section"));
    }
    if (entry.begin < cursor) {
      return TensorError(path, entry.view.name,
                         absl::StrCat("overlaps the previous tensor (begins at ", entry.begin,
                                      ", previous ends at ", cursor, ")"));
    }
    if (entry.begin > cursor) {
      return TensorError(path, entry.view.name,
                         absl::StrCat("gap: bytes [", cursor, ", ", entry.begin,
                                      ") of the data section belong to no tensor"));
    }
    cursor = entry.end;
  }
  if (cursor != data_size) {
    return HeaderError(path, absl::StrCat("data section has ", data_size - cursor,
                                          " trailing bytes not covered by any tensor"));
  }
  return absl::OkStatus();
}

}  // namespace

const char* DtypeName(Dtype dtype) { return kDtypes[static_cast<std::size_t>(dtype)].name; }
std::size_t DtypeSize(Dtype dtype) { return kDtypes[static_cast<std::size_t>(dtype)].size; }

std::optional<Dtype> DtypeFromName(std::string_view name) {
  for (const DtypeInfo& info : kDtypes) {
    if (name == info.name) return info.dtype;
  }
  return std::nullopt;
}

std::int64_t TensorView::num_elements() const {
  std::int64_t n = 1;
  for (std::int64_t dim : shape) n *= dim;
  return n;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  GHOST_ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> mapped, MappedFile::Open(path));
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      FromBytes(mapped->data(), mapped->size(), path);
  if (file.ok()) (*file)->file_ = std::move(mapped);
  return file;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::FromImage(
    std::string image, const std::string& path) {
  // Held by pointer so the views' addresses survive every move of the result.
  auto held = std::make_unique<std::string>(std::move(image));
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file =
      FromBytes(reinterpret_cast<const std::uint8_t*>(held->data()), held->size(), path);
  if (file.ok()) (*file)->image_ = std::move(held);
  return file;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::FromBytes(
    const std::uint8_t* bytes, std::size_t size, const std::string& path) {
  const std::uint64_t file_size = size;
  if (file_size < 8) {
    return HeaderError(path, absl::StrCat("file too short (", file_size,
                                          " bytes) to hold the 8-byte header length"));
  }
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | bytes[i];  // little endian
  if (header_size > kMaxHeaderBytes) {
    // The value itself is not shown: in a file that is not safetensors, it is 8 bytes of text.
    return HeaderError(path, "the header length (first 8 bytes) exceeds the 100 MB limit");
  }
  if (header_size > file_size - 8) {
    return HeaderError(path, absl::StrCat("the header length (first 8 bytes) runs past the end "
                                          "of the ",
                                          file_size, "-byte file"));
  }
  const std::string_view header(reinterpret_cast<const char*>(bytes + 8), header_size);
  if (!IsValidUtf8(header)) return HeaderError(path, "header is not valid UTF-8");
  GHOST_ASSIGN_OR_RETURN(const Json json, ParseJsonStrict(header, path + ": header"));
  if (!json.is_object()) return HeaderError(path, "header is not a JSON object");

  auto file = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  file->path_ = path;
  std::vector<Entry> entries;
  for (const auto& [name, info] : json.items()) {
    if (name == "__metadata__") {
      GHOST_RETURN_IF_ERROR(ParseMetadata(path, info, file->metadata_));
      continue;
    }
    GHOST_ASSIGN_OR_RETURN(Entry entry, ParseEntry(path, name, info));
    entries.push_back(std::move(entry));
  }
  const std::uint64_t data_start = 8 + header_size;
  GHOST_RETURN_IF_ERROR(CheckCoverage(path, entries, file_size - data_start));

  for (Entry& entry : entries) {
    entry.view.data = bytes + data_start + entry.begin;
    file->index_[entry.view.name] = file->tensors_.size();
    file->tensors_.push_back(std::move(entry.view));
  }
  return file;
}

const TensorView* SafetensorsFile::Find(std::string_view name) const {
  const auto it = index_.find(absl::string_view(name.data(), name.size()));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::vector<std::string> SafetensorsFile::tensor_names() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const TensorView& tensor : tensors_) names.push_back(tensor.name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace ghost
