// Crash-safe files for the registry: whole-file replacement that survives power loss, and an
// exclusive lock on a directory held for the lifetime of an object.
#ifndef GHOST_ENGINE_COMMON_DURABLE_FILE_H_
#define GHOST_ENGINE_COMMON_DURABLE_FILE_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ghost {

// Owns a file descriptor; closes it on destruction.
class ScopedFd {
 public:
  explicit ScopedFd(int fd = -1) : fd_(fd) {}
  ~ScopedFd();
  ScopedFd(ScopedFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  ScopedFd& operator=(ScopedFd&& other) noexcept;
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_;
};

// Writes all `size` bytes to `fd` (retrying short writes and EINTR); errors name `path`.
absl::Status WriteAll(int fd, const void* data, std::size_t size, const std::string& path);

// Makes the entries of `directory` (a rename into it) durable: fsync of the directory.
absl::Status SyncDirectory(const std::string& directory);

// Replaces `path` with `contents` so that a crash at any point leaves either the old or the
// new file: write a temp file beside it, fsync it, rename it over `path`, fsync the directory.
absl::Status WriteFileDurably(const std::string& path, const std::string& contents);

// An exclusive flock(2) on a lock file, released when the object is destroyed (or the process
// dies). Locks of two objects conflict even inside one process.
class FileLock {
 public:
  // Creates `path` if needed. FAILED_PRECONDITION when another holder has it.
  static absl::StatusOr<std::unique_ptr<FileLock>> Acquire(const std::string& path);

 private:
  explicit FileLock(ScopedFd fd) : fd_(std::move(fd)) {}

  ScopedFd fd_;  // closing it releases the lock
};

}  // namespace ghost

#endif  // GHOST_ENGINE_COMMON_DURABLE_FILE_H_
