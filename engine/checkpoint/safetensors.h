// A memory-mapped .safetensors file. The header is validated as strictly as the reference
// implementation does: any tensor view handed out lies inside the file and has exactly the
// bytes its dtype and shape require.
#ifndef GHOST_ENGINE_CHECKPOINT_SAFETENSORS_H_
#define GHOST_ENGINE_CHECKPOINT_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/common/mapped_file.h"

namespace ghost {

enum class Dtype { kBool, kU8, kI8, kI16, kU16, kF16, kBF16, kI32, kU32, kF32, kI64, kU64, kF64 };

const char* DtypeName(Dtype dtype);  // the safetensors spelling: "F32", "BF16", ...
std::size_t DtypeSize(Dtype dtype);
std::optional<Dtype> DtypeFromName(std::string_view name);

struct TensorView {
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<std::int64_t> shape;
  const std::uint8_t* data = nullptr;  // into the mapping; alignment is not guaranteed
  std::size_t nbytes = 0;

  std::int64_t num_elements() const;
};

class SafetensorsFile {
 public:
  // Maps and validates the file. INVALID_ARGUMENT messages name the file and the tensor.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  // Validates an image already in memory (the fuzzer's entry point); the views point into
  // `bytes`, which must outlive the result. `path` only names it in messages.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> FromBytes(const std::uint8_t* bytes,
                                                                    std::size_t size,
                                                                    const std::string& path);

  // Validates an image the result owns (a checkpoint built in memory, such as a GGUF file's
  // tensors under their Hugging Face names: gguf_import.h).
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> FromImage(std::string image,
                                                                    const std::string& path);

  // nullptr when absent.
  const TensorView* Find(std::string_view name) const;
  std::vector<std::string> tensor_names() const;  // sorted
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return path_; }

 private:
  SafetensorsFile() = default;

  std::string path_;
  std::unique_ptr<MappedFile> file_;    // null for FromBytes
  std::unique_ptr<std::string> image_;  // FromImage's bytes
  std::vector<TensorView> tensors_;
  absl::flat_hash_map<std::string, std::size_t> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_CHECKPOINT_SAFETENSORS_H_
