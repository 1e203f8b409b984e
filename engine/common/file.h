// Whole-file reads with errors that name the file.
#ifndef GHOST_ENGINE_COMMON_FILE_H_
#define GHOST_ENGINE_COMMON_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace ghost {

// NOT_FOUND when the file does not exist, INVALID_ARGUMENT for a directory, other errors with the
// errno text. Under a ScopedReadRoots (read_roots.h): PERMISSION_DENIED for a file outside its
// roots, INVALID_ARGUMENT for anything but a regular file (a FIFO must not block a load), and
// errors name the file relative to its root.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// `directory` + "/" + `name`.
std::string JoinPath(const std::string& directory, const std::string& name);

}  // namespace ghost

#endif  // GHOST_ENGINE_COMMON_FILE_H_
