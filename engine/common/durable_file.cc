#include "engine/common/durable_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"

namespace ghost {
namespace {

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(path, ": ", what, ": ", std::strerror(errno)));
}

}  // namespace

absl::Status WriteAll(int fd, const void* data, std::size_t size, const std::string& path) {
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = write(fd, bytes, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("write", path);
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& directory) {
  ScopedFd dir(open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoError("cannot open directory", directory);
  if (fsync(dir.get()) != 0) return ErrnoError("fsync", directory);
  return absl::OkStatus();
}

ScopedFd::~ScopedFd() {
  if (fd_ >= 0) close(fd_);
}

ScopedFd& ScopedFd::operator=(ScopedFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

absl::Status WriteFileDurably(const std::string& path, const std::string& contents) {
  // One writer per file (the registry holds its directory lock), so a fixed temp name is safe;
  // a temp file left by a crash is simply overwritten.
  const std::string temp = path + ".tmp";
  {
    ScopedFd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) return ErrnoError("cannot create", temp);
    GHOST_RETURN_IF_ERROR(WriteAll(fd.get(), contents.data(), contents.size(), temp));
    if (fsync(fd.get()) != 0) return ErrnoError("fsync", temp);
  }
  if (rename(temp.c_str(), path.c_str()) != 0) return ErrnoError("rename", temp);
  // The rename itself is durable only once the directory entry is.
  const std::string directory = std::filesystem::path(path).parent_path().string();
  return SyncDirectory(directory.empty() ? "." : directory);
}

absl::StatusOr<std::unique_ptr<FileLock>> FileLock::Acquire(const std::string& path) {
  ScopedFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoError("cannot open lock file", path);
  while (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat(path,
                       " is locked: another ghostserve uses this registry directory; "
                       "stop it or give this one its own --registry_dir"));
    }
    return ErrnoError("flock", path);
  }
  return std::unique_ptr<FileLock>(new FileLock(std::move(fd)));
}

}  // namespace ghost
