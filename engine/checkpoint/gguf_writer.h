// Writing GGUF files (version 3, little-endian; layout in gguf.h). Metadata keeps the order it
// was set in; tensors are laid out in the order added, each at an offset aligned to
// general.alignment (written as a key when it is not the default 32). GgufFile reads back
// everything written here; so does llama.cpp.
#ifndef GHOST_ENGINE_CHECKPOINT_GGUF_WRITER_H_
#define GHOST_ENGINE_CHECKPOINT_GGUF_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/checkpoint/gguf.h"

namespace ghost {

class GgufWriter {
 public:
  // `alignment` must be a power of two.
  explicit GgufWriter(std::uint32_t alignment = 32);

  // Setting a key again replaces its value in place.
  void SetString(const std::string& key, const std::string& value);
  void SetU32(const std::string& key, std::uint32_t value);
  void SetI32(const std::string& key, std::int32_t value);
  void SetF32(const std::string& key, float value);
  void SetBool(const std::string& key, bool value);
  void SetStringArray(const std::string& key, const std::vector<std::string>& values);
  void SetI32Array(const std::string& key, const std::vector<std::int32_t>& values);
  void SetF32Array(const std::string& key, const std::vector<float>& values);

  // `dims` in ggml order (dims[0] fastest); `bytes` exactly the type's size for them.
  // INVALID_ARGUMENT for a duplicate name, an unknown type or a size mismatch.
  absl::Status AddTensor(const std::string& name, std::uint32_t ggml_type,
                         const std::vector<std::int64_t>& dims, std::vector<std::uint8_t> bytes);

  // The whole file image.
  std::string Serialize() const;
  // Writes the image to `path` durably (temp file, fsync, rename).
  absl::Status WriteFile(const std::string& path) const;

 private:
  struct Entry {
    std::string key;
    std::string encoded;  // value type and value, as stored
  };
  struct Tensor {
    std::string name;
    std::uint32_t type;
    std::vector<std::int64_t> dims;
    std::vector<std::uint8_t> bytes;
  };
  void Set(const std::string& key, std::string encoded);

  std::uint32_t alignment_;
  std::vector<Entry> metadata_;
  std::vector<Tensor> tensors_;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_CHECKPOINT_GGUF_WRITER_H_
