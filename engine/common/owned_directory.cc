#include "engine/common/owned_directory.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "engine/common/durable_file.h"
#include "engine/common/file.h"
#include "engine/common/status_macros.h"

namespace ghost {
namespace {

namespace fs = std::filesystem;

// Owner tokens are short; a longer marker is not one of ours.
constexpr std::size_t kMaxOwnerBytes = 256;

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  return absl::InternalError(absl::StrCat(path, ": ", what, ": ", std::strerror(errno)));
}

std::string ParentOf(const std::string& path) {
  const std::string parent = fs::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

}  // namespace

absl::Status CreateOwnedDirectory(const std::string& dir, std::string_view owner) {
  if (owner.empty() || owner.size() > kMaxOwnerBytes) {
    return absl::InvalidArgumentError("an owner token must have 1 to 256 bytes");
  }
  if (mkdir(dir.c_str(), 0755) != 0) {
    if (errno == EEXIST) return absl::AlreadyExistsError(absl::StrCat(dir, " already exists"));
    return ErrnoError("cannot create directory", dir);
  }
  GHOST_RETURN_IF_ERROR(WriteFileDurably(JoinPath(dir, kOwnerMarkerFile), std::string(owner)));
  return SyncDirectory(ParentOf(dir));
}

bool IsOwnedBy(const std::string& dir, std::string_view owner) {
  std::error_code error;
  if (fs::symlink_status(dir, error).type() != fs::file_type::directory) return false;
  // No symlink, FIFO or device may stand in for the marker: open it without following links
  // or blocking, and read only a regular file.
  const std::string marker = JoinPath(dir, kOwnerMarkerFile);
  ScopedFd fd(open(marker.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat info;
  if (!fd.valid() || fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode) ||
      info.st_size != static_cast<off_t>(owner.size())) {
    return false;
  }
  char contents[kMaxOwnerBytes];
  std::size_t got = 0;
  while (got < owner.size()) {
    const ssize_t n = read(fd.get(), contents + got, owner.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  return std::string_view(contents, got) == owner;
}

absl::Status RemoveIfOwned(const std::string& dir, std::string_view owner) {
  if (!IsOwnedBy(dir, owner)) return absl::OkStatus();
  std::error_code error;
  fs::remove_all(dir, error);
  if (error) return absl::InternalError(absl::StrCat("cannot remove ", dir, ": ", error.message()));
  return absl::OkStatus();
}

absl::Status RenameNoReplace(const std::string& from, const std::string& to) {
  if (renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    return absl::OkStatus();
  }
  if (errno == EEXIST) return absl::AlreadyExistsError(absl::StrCat(to, " already exists"));
  if (errno != EINVAL && errno != ENOSYS) return ErrnoError("cannot rename to " + to, from);
  // The file system has no RENAME_NOREPLACE: an exclusive mkdir claims the name, and rename(2)
  // may replace that empty directory of ours.
  if (mkdir(to.c_str(), 0755) != 0) {
    if (errno == EEXIST) return absl::AlreadyExistsError(absl::StrCat(to, " already exists"));
    return ErrnoError("cannot create directory", to);
  }
  if (rename(from.c_str(), to.c_str()) != 0) {
    const absl::Status failed = ErrnoError("cannot rename to " + to, from);
    rmdir(to.c_str());
    return failed;
  }
  return absl::OkStatus();
}

}  // namespace ghost
