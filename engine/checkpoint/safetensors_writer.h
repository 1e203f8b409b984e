// Writing .safetensors files (the compressor's output). The reader (safetensors.h) accepts
// everything written here; so does any other safetensors tool.
#ifndef GHOST_ENGINE_CHECKPOINT_SAFETENSORS_WRITER_H_
#define GHOST_ENGINE_CHECKPOINT_SAFETENSORS_WRITER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/checkpoint/safetensors.h"

namespace ghost {

struct TensorToWrite {
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<std::int64_t> shape;
  absl::Span<const std::uint8_t> bytes;  // exactly product(shape) * DtypeSize(dtype); not owned
};

// Writes `tensors` to `path` and fsyncs it. Tensors are laid out by decreasing element size,
// then name, so every tensor starts aligned to its element size (the header is padded to a
// multiple of 8). INVALID_ARGUMENT for duplicate names or a byte count that does not match the
// shape; INTERNAL with the errno text for I/O failures.
[[nodiscard]] absl::Status WriteSafetensors(const std::string& path,
                                            absl::Span<const TensorToWrite> tensors,
                                            const std::map<std::string, std::string>& metadata);

// The same file as one in-memory image (for a checkpoint that never touches the disk).
absl::StatusOr<std::string> SafetensorsImage(absl::Span<const TensorToWrite> tensors,
                                             const std::map<std::string, std::string>& metadata);

}  // namespace ghost

#endif  // GHOST_ENGINE_CHECKPOINT_SAFETENSORS_WRITER_H_
