#include "engine/common/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/common/read_roots.h"

namespace ghost {

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  const std::string shown = internal::ShownPath(path);
  // O_NONBLOCK: a FIFO must not block the reader; it is refused below as not a regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int error = errno;
    const std::string message = absl::StrCat(shown, ": cannot open: ", std::strerror(error));
    if (error == ENOENT) return absl::NotFoundError(message);
    return absl::PermissionDeniedError(message);
  }
  struct FdCloser {
    const int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  if (absl::Status confined = internal::CheckOpenedUnderReadRoots(fd, path); !confined.ok()) {
    return confined;
  }
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    return absl::DataLossError(absl::StrCat(shown, ": cannot stat: ", std::strerror(errno)));
  }
  if (!S_ISREG(info.st_mode)) {
    // A model's files must be regular (a FIFO named config.json must not block a load); outside
    // a model root a caller may mean a pipe (a key passed as /dev/fd/N), read as asked.
    if (internal::ReadRootsActive() || S_ISDIR(info.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat(shown, ": not a regular file"));
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  }
  std::string contents;
  contents.reserve(static_cast<std::size_t>(info.st_size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::DataLossError(absl::StrCat(shown, ": read failed: ", std::strerror(errno)));
    }
    contents.append(buffer, static_cast<std::size_t>(n));
  }
  return contents;
}

std::string JoinPath(const std::string& directory, const std::string& name) {
  if (directory.empty() || directory.back() == '/') return directory + name;
  return absl::StrCat(directory, "/", name);
}

}  // namespace ghost
