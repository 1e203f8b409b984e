// A read-only memory mapping of a whole file; owns the descriptor and the mapping.
#ifndef GHOST_ENGINE_COMMON_MAPPED_FILE_H_
#define GHOST_ENGINE_COMMON_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace ghost {

class MappedFile {
 public:
  // NOT_FOUND for a missing file; an empty file maps to size() == 0 and data() == nullptr.
  // Confined like ReadFileToString under a ScopedReadRoots (read_roots.h).
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  MappedFile(int fd, const std::uint8_t* data, std::size_t size)
      : fd_(fd), data_(data), size_(size) {}

  int fd_;
  const std::uint8_t* data_;
  std::size_t size_;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_COMMON_MAPPED_FILE_H_
