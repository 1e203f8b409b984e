#include "engine/backend/cpu/layer_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/device_info.h"
#include "engine/common/durable_file.h"
#include "engine/common/log.h"
#include "kernels/cpu/huge_page_allocator.h"

namespace ghost {
namespace {

constexpr char kMagic[8] = {'G', 'H', 'S', 'T', 'L', 'Y', 'R', '\0'};
constexpr std::uint32_t kFormatVersion = 1;
// Past this slots come from the huge-page allocator (2 MiB aligned, THP advised).
constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::size_t RoundUp(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

}  // namespace

std::uint32_t LayerChecksum(const std::byte* data, std::size_t bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths.
  while (bytes > 0) {
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(bytes, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), chunk);
    data += chunk;
    bytes -= chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

namespace {

// A layer file as errors name it: its file name in the layer cache directory. Errors reach
// clients (a failed read fails their requests), which never see the server's paths.
std::string ShownName(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat("layer file ", ShownName(path), ": ", what, ": ", std::strerror(errno)));
}

// Reads exactly `bytes` at `offset` (retrying short reads and EINTR).
absl::Status ReadFully(int fd, std::byte* into, std::size_t bytes, std::uint64_t offset,
                       const std::string& path) {
  std::size_t done = 0;
  while (done < bytes) {
    const ssize_t n = pread(fd, into + done, bytes - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno(absl::StrCat("read at offset ", offset + done), path);
    if (n == 0) {
      return absl::InternalError(absl::StrCat("layer file ", ShownName(path),
                                              ": short read: ", done, " of ", bytes,
                                              " bytes at offset ", offset, " (truncated?)"));
    }
    done += static_cast<std::size_t>(n);
  }
  return absl::OkStatus();
}

template <typename T>
void Put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(value));
}

template <typename T>
bool Get(const std::string& in, std::size_t& at, T& value) {
  if (at + sizeof(T) > in.size()) return false;
  std::memcpy(&value, in.data() + at, sizeof(T));
  at += sizeof(T);
  return true;
}

// The header describing `layers` (offsets already set), padded to kDirectIoAlignment.
std::string EncodeHeader(const std::string& layout, const std::string& identity,
                         const std::vector<FileLayerTransport::Layer>& layers) {
  std::string out(kMagic, sizeof(kMagic));
  Put(out, kFormatVersion);
  Put(out, static_cast<std::uint32_t>(layers.size()));
  Put(out, static_cast<std::uint32_t>(layout.size()));
  Put(out, static_cast<std::uint32_t>(identity.size()));
  out += layout;
  out += identity;
  for (const FileLayerTransport::Layer& layer : layers) {
    Put(out, layer.offset);
    Put(out, layer.bytes);
    Put(out, layer.crc);
  }
  Put(out, LayerChecksum(reinterpret_cast<const std::byte*>(out.data()), out.size()));
  out.resize(RoundUp(out.size(), kDirectIoAlignment), '\0');
  return out;
}

// Where each layer goes in a file, after a header of `header_bytes`.
std::vector<FileLayerTransport::Layer> PlanLayers(const LayerStreamSource& source,
                                                  std::size_t header_bytes) {
  std::vector<FileLayerTransport::Layer> layers;
  std::uint64_t at = header_bytes;
  for (const WeightUnit* unit : source.units) {
    layers.push_back({at, unit->bytes(), LayerChecksum(unit->data(), unit->bytes())});
    at += RoundUp(unit->bytes(), kDirectIoAlignment);
  }
  return layers;
}

// The expected layers, with their offsets, and the header that describes them.
std::pair<std::vector<FileLayerTransport::Layer>, std::string> Describe(
    const LayerStreamSource& source) {
  const std::string layout = CpuKernelLayoutId();
  // The header's size does not depend on the offsets' values: plan once to size it.
  std::vector<FileLayerTransport::Layer> layers = PlanLayers(source, 0);
  const std::size_t header_bytes = EncodeHeader(layout, source.source_identity, layers).size();
  layers = PlanLayers(source, header_bytes);
  return {layers, EncodeHeader(layout, source.source_identity, layers)};
}

// Whether the file at `path` starts with `header` and every layer's bytes pass their CRC.
// Reads the whole file once, with the same reads as streaming.
bool Matches(const std::string& path, const std::string& header,
             const std::vector<FileLayerTransport::Layer>& layers, std::size_t slot_bytes) {
  ScopedFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT));
  const bool direct = fd.valid();
  if (!fd.valid() && errno == EINVAL) fd = ScopedFd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  HostLayerSlot buffer(std::max(slot_bytes, header.size()));
  if (!ReadFully(fd.get(), buffer.data(), header.size(), 0, path).ok() ||
      std::memcmp(buffer.data(), header.data(), header.size()) != 0) {
    LogWarning(absl::StrCat("layer file ", path,
                            " is for another model, kernel layout or format version: rewriting"));
    return false;
  }
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const FileLayerTransport::Layer& layer = layers[i];
    const std::size_t bytes = direct ? RoundUp(layer.bytes, kDirectIoAlignment) : layer.bytes;
    if (absl::Status s = ReadFully(fd.get(), buffer.data(), bytes, layer.offset, path); !s.ok()) {
      LogWarning(absl::StrCat(s.message(), ": rewriting"));
      return false;
    }
    if (LayerChecksum(buffer.data(), layer.bytes) != layer.crc) {
      LogWarning(
          absl::StrCat("layer file ", path, ": layer ", i, " fails its checksum: rewriting"));
      return false;
    }
  }
  if (!direct) posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
  return true;
}

// Writes the file durably: a temp file beside it, fsync, rename over `path`, fsync the folder.
absl::Status Write(const std::string& path, const std::string& header,
                   const LayerStreamSource& source,
                   const std::vector<FileLayerTransport::Layer>& layers) {
  static std::atomic<int> counter{0};
  const std::string temp = absl::StrCat(path, ".tmp.", getpid(), ".", counter++);
  {
    ScopedFd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) return Errno("cannot create", temp);
    const std::string shown = ShownName(temp);
    absl::Status s = WriteAll(fd.get(), header.data(), header.size(), shown);
    const std::string padding(kDirectIoAlignment, '\0');
    for (std::size_t i = 0; i < layers.size() && s.ok(); ++i) {
      s = WriteAll(fd.get(), source.units[i]->data(), layers[i].bytes, shown);
      const std::size_t pad = RoundUp(layers[i].bytes, kDirectIoAlignment) - layers[i].bytes;
      if (s.ok() && pad > 0) s = WriteAll(fd.get(), padding.data(), pad, shown);
    }
    if (s.ok() && fsync(fd.get()) != 0) s = Errno("fsync", temp);
    // Written pages are clean now: drop them, they would only be a second copy of the layers.
    if (s.ok()) posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
    if (!s.ok()) {
      unlink(temp.c_str());
      return s;
    }
  }
  if (rename(temp.c_str(), path.c_str()) != 0) {
    absl::Status s = Errno("rename", temp);
    unlink(temp.c_str());
    return s;
  }
  if (!SyncDirectory(std::filesystem::path(path).parent_path().string()).ok()) {
    return absl::InternalError(
        absl::StrCat("layer file ", ShownName(path), ": cannot sync its directory"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string CpuKernelLayoutId() { return absl::StrCat("cpu-units-1/", CpuIsaName()); }

HostLayerSlot::HostLayerSlot(std::size_t bytes) : bytes_(RoundUp(bytes, kDirectIoAlignment)) {
  if (bytes_ >= kHugePage) {
    data_ = static_cast<std::byte*>(kernels::AllocateHugePages(bytes_));
  } else {
    data_ = static_cast<std::byte*>(std::aligned_alloc(kDirectIoAlignment, bytes_));
    if (data_ == nullptr) throw std::bad_alloc();
  }
}

HostLayerSlot::~HostLayerSlot() {
  if (bytes_ >= kHugePage) {
    kernels::FreeHugePages(data_, bytes_);
  } else {
    std::free(data_);
  }
}

absl::StatusOr<std::unique_ptr<FileLayerTransport>> FileLayerTransport::Open(
    const LayerStreamSource& source) {
  std::unique_ptr<FileLayerTransport> transport(new FileLayerTransport());
  transport->path_ = source.cache_path;
  const std::string& path = transport->path_;
  std::size_t largest = 0;
  for (std::size_t l = 0; l < source.units.size(); ++l) {
    const WeightUnit* unit = source.units[l];
    if (unit->data() == nullptr) {
      return absl::FailedPreconditionError("a layer file is written from units holding bytes");
    }
    largest = std::max(largest, RoundUp(unit->bytes(), kDirectIoAlignment));
    if (l >= source.first_streamed) {
      transport->slot_bytes_ =
          std::max(transport->slot_bytes_, RoundUp(unit->bytes(), kDirectIoAlignment));
    }
  }
  if (source.first_streamed >= source.units.size()) {
    return absl::InvalidArgumentError("a layer transport needs a layer to stream");
  }
  transport->first_streamed_ = source.first_streamed;
  auto [layers, header] = Describe(source);
  if (!Matches(path, header, layers, largest)) {
    std::error_code error;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), error);
    if (error) {
      return absl::InternalError(absl::StrCat("layer file ", ShownName(path),
                                              ": cannot create its directory: ", error.message()));
    }
    if (absl::Status s = Write(path, header, source, layers); !s.ok()) return s;
    transport->origin_ = LayerFileOrigin::kWritten;
  }
  transport->layers_ = std::move(layers);
  transport->fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
  transport->direct_ = transport->fd_ >= 0;
  if (transport->fd_ < 0 && errno == EINVAL) {
    transport->fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (transport->fd_ < 0) return Errno("cannot open", path);
  return transport;
}

FileLayerTransport::~FileLayerTransport() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<std::unique_ptr<LayerSlot>> FileLayerTransport::NewSlot() {
  return std::make_unique<HostLayerSlot>(slot_bytes_);
}

absl::Status FileLayerTransport::Read(std::size_t layer, LayerSlot& slot) {
  const Layer& l = layers_[first_streamed_ + layer];
  // Direct reads need whole 4096-byte blocks; the file pads every layer to one.
  const std::size_t bytes = direct_ ? RoundUp(l.bytes, kDirectIoAlignment) : l.bytes;
  if (absl::Status s = ReadFully(fd_, slot.data(), bytes, l.offset, path_); !s.ok()) {
    return absl::InternalError(
        absl::StrCat("streaming decoder layer ", first_streamed_ + layer, ": ", s.message()));
  }
  if (!direct_) posix_fadvise(fd_, static_cast<off_t>(l.offset), bytes, POSIX_FADV_DONTNEED);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<LayerTransport>> CpuBackend::NewLayerTransport(
    const LayerStreamSource& source) {
  absl::StatusOr<std::unique_ptr<FileLayerTransport>> transport = FileLayerTransport::Open(source);
  if (!transport.ok()) return transport.status();
  return std::unique_ptr<LayerTransport>(*std::move(transport));
}

}  // namespace ghost
