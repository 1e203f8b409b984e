#include "engine/checkpoint/safetensors_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "engine/common/durable_file.h"
#include "engine/common/status_macros.h"
#include "nlohmann/json.hpp"

namespace ghost {
namespace {

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(path, ": ", what, ": ", std::strerror(errno)));
}

absl::Status CheckTensors(absl::Span<const TensorToWrite> tensors) {
  std::set<std::string> names;
  for (const TensorToWrite& t : tensors) {
    if (!names.insert(t.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate tensor name ", t.name));
    }
    std::int64_t elements = 1;
    for (std::int64_t d : t.shape) {
      if (d < 0) return absl::InvalidArgumentError(absl::StrCat(t.name, ": negative dimension"));
      elements *= d;
    }
    if (static_cast<std::size_t>(elements) * DtypeSize(t.dtype) != t.bytes.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(t.name, ": ", t.bytes.size(), " bytes do not match its shape and dtype"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteSafetensors(const std::string& path, absl::Span<const TensorToWrite> tensors,
                              const std::map<std::string, std::string>& metadata) {
  GHOST_RETURN_IF_ERROR(CheckTensors(tensors));
  std::vector<const TensorToWrite*> order;
  for (const TensorToWrite& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const TensorToWrite* a, const TensorToWrite* b) {
    const std::size_t sa = DtypeSize(a->dtype), sb = DtypeSize(b->dtype);
    return sa != sb ? sa > sb : a->name < b->name;
  });

  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::size_t offset = 0;
  for (const TensorToWrite* t : order) {
    header[t->name] = {{"dtype", DtypeName(t->dtype)},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + t->bytes.size()}}};
    offset += t->bytes.size();
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  std::uint8_t length[8];
  const std::uint64_t header_size = header_text.size();
  for (int i = 0; i < 8; ++i) length[i] = static_cast<std::uint8_t>(header_size >> (8 * i));

  ScopedFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoError("cannot create", path);
  absl::Status s = WriteAll(fd.get(), length, sizeof(length), path);
  if (s.ok()) {
    s = WriteAll(fd.get(), header_text.data(), header_text.size(), path);
  }
  for (const TensorToWrite* t : order) {
    if (s.ok()) s = WriteAll(fd.get(), t->bytes.data(), t->bytes.size(), path);
  }
  if (s.ok() && fsync(fd.get()) != 0) s = ErrnoError("fsync", path);
  return s;
}

}  // namespace ghost
