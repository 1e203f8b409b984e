// Confinement of file reads to directories (TESTPLAN G23): while a ScopedReadRoots is alive on a
// thread, every file that thread opens through engine/common (ReadFileToString,
// MappedFile::Open) must really lie under one of its roots. The check is made on the opened
// descriptor (/proc/self/fd), after every symlink in every component has been followed, so a
// symlink swapped in between a check and the open cannot lead outside. Model loads run under
// their model root; a file that leaves it is PERMISSION_DENIED, and its bytes are never read.
// While a scope is alive, file errors name paths relative to the root they are under, never the
// server's absolute paths.
#ifndef GHOST_ENGINE_COMMON_READ_ROOTS_H_
#define GHOST_ENGINE_COMMON_READ_ROOTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace ghost {

class ScopedReadRoots {
 public:
  // `roots` are directories; each is made canonical (symlinks resolved) here, since the check
  // compares real paths. Scopes nest: an inner one replaces the outer one until it ends.
  explicit ScopedReadRoots(std::vector<std::string> roots);
  ~ScopedReadRoots();
  ScopedReadRoots(const ScopedReadRoots&) = delete;
  ScopedReadRoots& operator=(const ScopedReadRoots&) = delete;

 private:
  std::vector<std::string> roots_;
  const std::vector<std::string>* previous_;  // the enclosing scope's roots, if any
};

namespace internal {

// OK when no scope is alive on this thread, or when the file open on `fd` lies under one of its
// roots; otherwise PERMISSION_DENIED naming `path` as ShownPath does.
absl::Status CheckOpenedUnderReadRoots(int fd, const std::string& path);

// Whether a ScopedReadRoots is alive on this thread.
bool ReadRootsActive();

// `path` as errors may show it: relative to the scope's root it is lexically under, else only
// its last component; unchanged when no scope is alive.
std::string ShownPath(const std::string& path);

}  // namespace internal
}  // namespace ghost

#endif  // GHOST_ENGINE_COMMON_READ_ROOTS_H_
