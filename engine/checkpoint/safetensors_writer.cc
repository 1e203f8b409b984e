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

// The tensors in file order and the 8-byte length plus padded JSON header that precede them.
struct Layout {
  std::vector<const TensorToWrite*> order;
  std::string prefix;
};

absl::StatusOr<Layout> LayOut(absl::Span<const TensorToWrite> tensors,
                              const std::map<std::string, std::string>& metadata) {
  GHOST_RETURN_IF_ERROR(CheckTensors(tensors));
  Layout layout;
  for (const TensorToWrite& t : tensors) layout.order.push_back(&t);
  std::sort(layout.order.begin(), layout.order.end(),
            [](const TensorToWrite* a, const TensorToWrite* b) {
              const std::size_t sa = DtypeSize(a->dtype), sb = DtypeSize(b->dtype);
              return sa != sb ? sa > sb : a->name < b->name;
            });

  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::size_t offset = 0;
  for (const TensorToWrite* t : layout.order) {
    header[t->name] = {{"dtype", DtypeName(t->dtype)},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + t->bytes.size()}}};
    offset += t->bytes.size();
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  const std::uint64_t header_size = header_text.size();
  for (int i = 0; i < 8; ++i) layout.prefix.push_back(static_cast<char>(header_size >> (8 * i)));
  layout.prefix += header_text;
  return layout;
}

}  // namespace

absl::Status WriteSafetensors(const std::string& path, absl::Span<const TensorToWrite> tensors,
                              const std::map<std::string, std::string>& metadata) {
  GHOST_ASSIGN_OR_RETURN(const Layout layout, LayOut(tensors, metadata));
  ScopedFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoError("cannot create", path);
  absl::Status s = WriteAll(fd.get(), layout.prefix.data(), layout.prefix.size(), path);
  for (const TensorToWrite* t : layout.order) {
    if (s.ok()) s = WriteAll(fd.get(), t->bytes.data(), t->bytes.size(), path);
  }
  if (s.ok() && fsync(fd.get()) != 0) s = ErrnoError("fsync", path);
  return s;
}

absl::StatusOr<std::string> SafetensorsImage(absl::Span<const TensorToWrite> tensors,
                                             const std::map<std::string, std::string>& metadata) {
  GHOST_ASSIGN_OR_RETURN(Layout layout, LayOut(tensors, metadata));
  std::string image = std::move(layout.prefix);
  for (const TensorToWrite* t : layout.order) {
    image.append(reinterpret_cast<const char*>(t->bytes.data()), t->bytes.size());
  }
  return image;
}

}  // namespace ghost
