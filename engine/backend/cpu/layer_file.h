// The CPU backend's layer transport: a per-model layer file holding every decoder layer's weight
// unit bytes in the kernel-ready layout (so one file serves any budget; its disk cost is the
// decoder layers' size), so that streaming one layer is one large sequential read
// straight into a slot, with no repacking.
//
// File layout (little-endian): a header (magic, format version, the CPU kernel layout, the
// source model's identity, and per layer its offset, bytes and CRC-32), padded to 4096 bytes,
// then every layer's bytes at a 4096-aligned offset. Written once, durably (temp file, fsync,
// rename, fsync of the directory), as the load packs the layers one by one (a builder,
// Backend::NewLayerTransportBuilder), and rebuilt when the header does not describe exactly the
// units being streamed (another model version, another kernel layout, other layer sizes), a
// layer's bytes fail their checksum, or a layer the load packs differs from the file's; the
// first two are checked at every load by reading the file once, before any layer is packed.
//
// Reads use O_DIRECT into 4096-aligned slots, bypassing the page cache (which would otherwise
// keep a second copy of every streamed layer and make the budget meaningless); a file system
// that refuses O_DIRECT (EINVAL) falls back to buffered reads with POSIX_FADV_DONTNEED.
#ifndef GHOST_ENGINE_BACKEND_CPU_LAYER_FILE_H_
#define GHOST_ENGINE_BACKEND_CPU_LAYER_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend/backend.h"
#include "engine/backend/layer_streamer.h"

namespace ghost {

// The alignment of offsets, lengths and buffers of direct reads.
inline constexpr std::size_t kDirectIoAlignment = kLayerSlotAlignment;

// What opening a layer file found.
enum class LayerFileOrigin {
  kReused,   // the file on disk matched the units
  kWritten,  // there was none, or it was stale or corrupt: written anew
};

class LayerFileBuilder;  // layer_file.cc: CpuBackend::NewLayerTransportBuilder

// A layer file opened for streaming, once its builder has every layer.
class FileLayerTransport final : public LayerTransport {
 public:
  ~FileLayerTransport() override;

  std::size_t layer_count() const override { return layers_.size() - first_streamed_; }
  std::size_t layer_bytes(std::size_t layer) const override {
    return layers_[first_streamed_ + layer].bytes;
  }
  std::size_t slot_bytes() const override { return slot_bytes_; }
  absl::StatusOr<std::unique_ptr<LayerSlot>> NewSlot() override;
  absl::Status Read(std::size_t layer, LayerSlot& slot) override;

  const std::string& path() const { return path_; }
  LayerFileOrigin origin() const { return origin_; }
  // Whether reads bypass the page cache (O_DIRECT).
  bool direct() const { return direct_; }

  struct Layer {
    std::uint64_t offset = 0;
    std::uint64_t bytes = 0;
    std::uint32_t crc = 0;
  };

 private:
  friend class LayerFileBuilder;
  FileLayerTransport() = default;

  std::string path_;
  int fd_ = -1;
  bool direct_ = false;
  LayerFileOrigin origin_ = LayerFileOrigin::kReused;
  std::vector<Layer> layers_;  // every layer of the file
  std::size_t first_streamed_ = 0;
  std::size_t slot_bytes_ = 0;  // the largest streamed layer, rounded up
};

// 4096-aligned host memory of `bytes` (a multiple of kDirectIoAlignment), freed on destruction;
// the CPU's layer slot, and a buffer for direct reads.
class HostLayerSlot final : public LayerSlot {
 public:
  explicit HostLayerSlot(std::size_t bytes);
  ~HostLayerSlot() override;
  HostLayerSlot(const HostLayerSlot&) = delete;
  HostLayerSlot& operator=(const HostLayerSlot&) = delete;
  std::byte* data() override { return data_; }

 private:
  std::size_t bytes_;
  std::byte* data_;
};

// The checksum a layer file records per layer (and over its header): CRC-32 (zlib). Checked at
// every load, not at every streaming read: it runs slower than a disk's direct reads (0.8-1.2
// against 1.2-2.0 GB/s in one `ghostbench stream` run, which measures both), so checking each
// read in the copy worker would more than halve a copy-bound stream.
std::uint32_t LayerChecksum(const std::byte* data, std::size_t bytes);

// The CPU kernels' layout of weight unit bytes, as recorded in a layer file ("cpu-units-1/avx2").
std::string CpuKernelLayoutId();

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_CPU_LAYER_FILE_H_
