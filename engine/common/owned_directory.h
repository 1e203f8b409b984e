// Directories that a writer creates, fills and may later remove, in a place other writers (a
// second server sharing the model root, a user copying files) also use. Ownership is recorded
// inside the directory, durably, before anything else goes in, so that cleanup after a crash
// removes only what that writer itself made and never a directory someone else put at the same
// path.
#ifndef GHOST_ENGINE_COMMON_OWNED_DIRECTORY_H_
#define GHOST_ENGINE_COMMON_OWNED_DIRECTORY_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace ghost {

// The ownership marker inside an owned directory; it holds the owner's token and nothing else.
inline constexpr char kOwnerMarkerFile[] = ".ghost-owner";

// Creates `dir` (its parent must exist) exclusively: ALREADY_EXISTS when anything is at that
// path, which is then left alone. Writes the marker holding `owner` (not empty), and makes
// the marker and the directory's entry in its parent durable before returning. A crash in
// between leaves at most an empty directory without a marker.
[[nodiscard]] absl::Status CreateOwnedDirectory(const std::string& dir, std::string_view owner);

// Whether `dir` is a directory (not a symlink) whose marker holds exactly `owner`.
bool IsOwnedBy(const std::string& dir, std::string_view owner);

// Removes `dir` with everything in it when IsOwnedBy(dir, owner); anything else at that path
// (nothing included) is left as it is and is OK. INTERNAL when the removal itself fails.
[[nodiscard]] absl::Status RemoveIfOwned(const std::string& dir, std::string_view owner);

// Moves the directory `from` to `to` in one atomic step that fails with ALREADY_EXISTS when
// anything is at `to` (renameat2 RENAME_NOREPLACE), so two writers racing for one name never
// both get it and nothing at `to` is ever replaced. On a file system without RENAME_NOREPLACE
// the name is claimed with an exclusive mkdir first (a crash between the two steps then leaves
// an empty directory at `to`). Both paths must be on one file system. The caller syncs the
// parent directory when the rename must be durable.
[[nodiscard]] absl::Status RenameNoReplace(const std::string& from, const std::string& to);

}  // namespace ghost

#endif  // GHOST_ENGINE_COMMON_OWNED_DIRECTORY_H_
