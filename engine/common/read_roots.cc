#include "engine/common/read_roots.h"

#include <unistd.h>

#include <climits>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ghost {
namespace {

// The innermost live scope's roots on this thread.
thread_local const std::vector<std::string>* active_roots = nullptr;

// Whether `path` is `root` or below it, compared by whole components.
bool IsUnder(const std::string& path, const std::string& root) {
  if (path.compare(0, root.size(), root) != 0) return false;
  return path.size() == root.size() || root == "/" || path[root.size()] == '/';
}

}  // namespace

ScopedReadRoots::ScopedReadRoots(std::vector<std::string> roots)
    : roots_(std::move(roots)), previous_(active_roots) {
  for (std::string& root : roots_) {
    std::error_code error;
    const std::filesystem::path canonical = std::filesystem::canonical(root, error);
    if (!error) root = canonical.string();
    if (root.size() > 1 && root.back() == '/') root.pop_back();
  }
  active_roots = &roots_;
}

ScopedReadRoots::~ScopedReadRoots() { active_roots = previous_; }

namespace internal {

absl::Status CheckOpenedUnderReadRoots(int fd, const std::string& path) {
  if (active_roots == nullptr) return absl::OkStatus();
  char target[PATH_MAX];
  const std::string link = absl::StrCat("/proc/self/fd/", fd);
  const ssize_t length = ::readlink(link.c_str(), target, sizeof(target) - 1);
  if (length > 0) {
    const std::string opened(target, static_cast<std::size_t>(length));
    for (const std::string& root : *active_roots) {
      if (IsUnder(opened, root)) return absl::OkStatus();
    }
  }
  return absl::PermissionDeniedError(absl::StrCat(
      ShownPath(path), " leaves its model root (a symlink points outside it); not read"));
}

bool ReadRootsActive() { return active_roots != nullptr; }

std::string ShownPath(const std::string& path) {
  if (active_roots == nullptr) return path;
  for (const std::string& root : *active_roots) {
    if (IsUnder(path, root) && path.size() > root.size()) {
      return path.substr(root == "/" ? 1 : root.size() + 1);
    }
  }
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace internal
}  // namespace ghost
