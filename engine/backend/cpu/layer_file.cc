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

// Writes exactly `bytes` at `offset` (retrying short writes and EINTR).
absl::Status PwriteAll(int fd, const void* data, std::size_t bytes, std::uint64_t offset,
                       const std::string& path) {
  const auto* from = static_cast<const char*>(data);
  std::size_t done = 0;
  while (done < bytes) {
    const ssize_t n = pwrite(fd, from + done, bytes - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno(absl::StrCat("write at offset ", offset + done), path);
    done += static_cast<std::size_t>(n);
  }
  return absl::OkStatus();
}

// Where each layer of `plan` goes in a file, after a header of `header_bytes`; CRCs unset.
std::vector<FileLayerTransport::Layer> PlaceLayers(const LayerStreamPlan& plan,
                                                   std::size_t header_bytes) {
  std::vector<FileLayerTransport::Layer> layers;
  std::uint64_t at = header_bytes;
  for (std::size_t bytes : plan.layer_bytes) {
    layers.push_back({at, bytes, 0});
    at += RoundUp(bytes, kDirectIoAlignment);
  }
  return layers;
}

// Where layer i's CRC sits in a header (EncodeHeader's layout).
std::size_t CrcPosition(const std::string& layout, const std::string& identity, std::size_t i) {
  constexpr std::size_t kFixed = sizeof(kMagic) + 4 * sizeof(std::uint32_t);
  constexpr std::size_t kPerLayer = 2 * sizeof(std::uint64_t) + sizeof(std::uint32_t);
  return kFixed + layout.size() + identity.size() + i * kPerLayer + 2 * sizeof(std::uint64_t);
}

}  // namespace

// Builds a layer file as the load hands it the layers. The file at the plan's path is reused
// when its header describes exactly this model (format version, kernel layout, source identity,
// every layer's size and offset) and every layer passes the CRC the header records; each layer
// handed over is then checked against that CRC, and the first that differs (a repacking that
// changed bytes without changing the identity) turns the build into a rewrite that copies the
// layers before it from the old file. Otherwise the file is written anew, a layer at a time,
// into a temp file renamed over the old one by Finish.
class LayerFileBuilder final : public LayerTransportBuilder {
 public:
  LayerFileBuilder(const LayerStreamPlan& plan, CpuBackend& backend)
      : backend_(backend),
        path_(plan.cache_path),
        layout_(CpuKernelLayoutId()),
        identity_(plan.source_identity),
        first_streamed_(plan.first_streamed) {
    // The header's size does not depend on the values of offsets and CRCs: place once to size it.
    header_bytes_ = EncodeHeader(layout_, identity_, PlaceLayers(plan, 0)).size();
    layers_ = PlaceLayers(plan, header_bytes_);
    for (std::size_t l = first_streamed_; l < layers_.size(); ++l) {
      slot_bytes_ =
          std::max<std::size_t>(slot_bytes_, RoundUp(layers_[l].bytes, kDirectIoAlignment));
    }
  }
  ~LayerFileBuilder() override {
    if (out_.valid()) unlink(temp_.c_str());
  }

  // Reuses the file when it matches, else starts writing it.
  absl::Status Begin() {
    reusing_ = Matches();
    return reusing_ ? absl::OkStatus() : StartWriting(0);
  }

  absl::Status Add(std::size_t layer, const WeightUnit& unit) override {
    if (layer != next_layer_ || layer >= layers_.size()) {
      return absl::InternalError(absl::StrCat("layer file ", ShownName(path_), ": layer ", layer,
                                              " handed over, ", next_layer_, " expected"));
    }
    FileLayerTransport::Layer& l = layers_[layer];
    if (unit.data() == nullptr || unit.bytes() != l.bytes) {
      return absl::InternalError(absl::StrCat("layer file ", ShownName(path_), ": layer ", layer,
                                              " has ", unit.bytes(), " bytes, ", l.bytes,
                                              " planned"));
    }
    const std::uint32_t crc = LayerChecksum(unit.data(), unit.bytes());
    if (reusing_ && crc != l.crc) {
      LogWarning(absl::StrCat("layer file ", path_, ": layer ", layer,
                              " differs from the model's: rewriting"));
      reusing_ = false;
      if (absl::Status s = StartWriting(layer); !s.ok()) return s;
    }
    if (!reusing_) {
      l.crc = crc;
      if (absl::Status s = PwriteAll(out_.get(), unit.data(), l.bytes, l.offset, temp_); !s.ok()) {
        return s;
      }
      // Padding to the next layer stays a hole: it reads back as zeros.
    }
    ++next_layer_;
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<WeightUnit>> MakeStreamedUnit(
      std::size_t layer, std::vector<UnitTensorSource> tensors) override {
    absl::StatusOr<std::unique_ptr<WeightUnit>> unit = backend_.NewWeightUnit(std::move(tensors));
    if (!unit.ok()) return unit.status();
    if (absl::Status s = Add(layer, **unit); !s.ok()) return s;
    (*unit)->ReleaseBytes();
    return unit;
  }

  absl::StatusOr<std::unique_ptr<LayerTransport>> Finish() override {
    if (next_layer_ != layers_.size()) {
      return absl::FailedPreconditionError(absl::StrCat("layer file ", ShownName(path_), ": ",
                                                        next_layer_, " of ", layers_.size(),
                                                        " layers in"));
    }
    std::unique_ptr<FileLayerTransport> transport(new FileLayerTransport());
    transport->origin_ = reusing_ ? LayerFileOrigin::kReused : LayerFileOrigin::kWritten;
    if (!reusing_) {
      if (absl::Status s = FinishWriting(); !s.ok()) return s;
    }
    transport->path_ = path_;
    transport->layers_ = layers_;
    transport->first_streamed_ = first_streamed_;
    transport->slot_bytes_ = slot_bytes_;
    transport->fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
    transport->direct_ = transport->fd_ >= 0;
    if (transport->fd_ < 0 && errno == EINVAL) {
      transport->fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    }
    if (transport->fd_ < 0) return Errno("cannot open", path_);
    return std::unique_ptr<LayerTransport>(std::move(transport));
  }

 private:
  // Whether the file at path_ has the header of this plan (taking the CRCs it records into
  // layers_) and every layer's bytes pass their CRC. Reads the whole file once, with the same
  // reads as streaming, into one buffer of the largest layer, freed before any layer is packed.
  bool Matches() {
    ScopedFd fd(open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT));
    const bool direct = fd.valid();
    if (!fd.valid() && errno == EINVAL) fd = ScopedFd(open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return false;
    std::size_t largest = header_bytes_;
    for (const FileLayerTransport::Layer& l : layers_) {
      largest = std::max<std::size_t>(largest, RoundUp(l.bytes, kDirectIoAlignment));
    }
    HostLayerSlot buffer(largest);
    if (!ReadFully(fd.get(), buffer.data(), header_bytes_, 0, path_).ok()) return Stale();
    const std::string found(reinterpret_cast<const char*>(buffer.data()), header_bytes_);
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      std::memcpy(&layers_[i].crc, found.data() + CrcPosition(layout_, identity_, i),
                  sizeof(std::uint32_t));
    }
    if (found != EncodeHeader(layout_, identity_, layers_)) return Stale();
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const FileLayerTransport::Layer& layer = layers_[i];
      const std::size_t bytes = direct ? RoundUp(layer.bytes, kDirectIoAlignment) : layer.bytes;
      if (absl::Status s = ReadFully(fd.get(), buffer.data(), bytes, layer.offset, path_);
          !s.ok()) {
        LogWarning(absl::StrCat(s.message(), ": rewriting"));
        return false;
      }
      if (LayerChecksum(buffer.data(), layer.bytes) != layer.crc) {
        LogWarning(
            absl::StrCat("layer file ", path_, ": layer ", i, " fails its checksum: rewriting"));
        return false;
      }
    }
    if (!direct) posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
    return true;
  }
  bool Stale() const {
    LogWarning(absl::StrCat("layer file ", path_,
                            " is for another model, kernel layout or format version: rewriting"));
    return false;
  }

  // Opens a temp file beside path_ for the layers from `first` on, with room for the header
  // and layers [0, first) copied from the file at path_ (which matched them).
  absl::Status StartWriting(std::size_t first) {
    static std::atomic<int> counter{0};
    std::error_code error;
    std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), error);
    if (error) {
      return absl::InternalError(absl::StrCat("layer file ", ShownName(path_),
                                              ": cannot create its directory: ", error.message()));
    }
    temp_ = absl::StrCat(path_, ".tmp.", getpid(), ".", counter++);
    out_ = ScopedFd(open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!out_.valid()) return Errno("cannot create", temp_);
    if (first == 0) return absl::OkStatus();
    ScopedFd in(open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in.valid()) return Errno("cannot open", path_);
    // In the kernel, file to file: no layer passes through this process's memory.
    loff_t from = static_cast<loff_t>(header_bytes_), to = from;
    std::size_t left = layers_[first].offset - header_bytes_;
    while (left > 0) {
      const ssize_t n = copy_file_range(in.get(), &from, out_.get(), &to, left, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Errno("copying its unchanged layers", path_);
      left -= static_cast<std::size_t>(n);
    }
    return absl::OkStatus();
  }

  // The header, then durably: fsync, rename over path_, fsync of the folder.
  absl::Status FinishWriting() {
    const std::string header = EncodeHeader(layout_, identity_, layers_);
    absl::Status s = PwriteAll(out_.get(), header.data(), header.size(), 0, temp_);
    // The last layer's padding, so that a direct read of its whole last block stays in the file.
    const std::uint64_t end =
        layers_.back().offset + RoundUp(layers_.back().bytes, kDirectIoAlignment);
    if (s.ok() && ftruncate(out_.get(), static_cast<off_t>(end)) != 0) s = Errno("truncate", temp_);
    if (s.ok() && fsync(out_.get()) != 0) s = Errno("fsync", temp_);
    // Written pages are clean now: drop them, they would only be a second copy of the layers.
    if (s.ok()) posix_fadvise(out_.get(), 0, 0, POSIX_FADV_DONTNEED);
    if (!s.ok()) return s;
    out_ = ScopedFd();
    if (rename(temp_.c_str(), path_.c_str()) != 0) {
      s = Errno("rename", temp_);
      unlink(temp_.c_str());
      return s;
    }
    if (!SyncDirectory(std::filesystem::path(path_).parent_path().string()).ok()) {
      return absl::InternalError(
          absl::StrCat("layer file ", ShownName(path_), ": cannot sync its directory"));
    }
    return absl::OkStatus();
  }

  CpuBackend& backend_;
  const std::string path_;
  const std::string layout_;
  const std::string identity_;
  const std::size_t first_streamed_;
  std::size_t header_bytes_ = 0;
  std::size_t slot_bytes_ = 0;
  std::vector<FileLayerTransport::Layer> layers_;  // every layer; CRCs as found or written
  bool reusing_ = false;
  std::size_t next_layer_ = 0;
  std::string temp_;
  ScopedFd out_;  // the temp file, while writing
};

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

absl::StatusOr<std::unique_ptr<LayerTransportBuilder>> CpuBackend::NewLayerTransportBuilder(
    const LayerStreamPlan& plan) {
  if (plan.first_streamed >= plan.layer_bytes.size()) {
    return absl::InvalidArgumentError("a layer transport needs a layer to stream");
  }
  auto builder = std::make_unique<LayerFileBuilder>(plan, *this);
  if (absl::Status s = builder->Begin(); !s.ok()) return s;
  return std::unique_ptr<LayerTransportBuilder>(std::move(builder));
}

}  // namespace ghost
