// Model names and model directories confined to the configured model roots. Clients name
// directories; these functions decide whether a name may be used and where it really points
// (after following symlinks), and their errors never echo a path outside the roots.
#ifndef GHOST_ENGINE_REGISTRY_MODEL_PATH_H_
#define GHOST_ENGINE_REGISTRY_MODEL_PATH_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ghost {

struct ModelRoot {
  std::string configured;  // absolute and lexically normal, as the operator wrote it
  std::string canonical;   // after following symlinks (realpath)
};

// INVALID_ARGUMENT naming the first root that is not an existing directory.
absl::StatusOr<std::vector<ModelRoot>> ResolveModelRoots(const std::vector<std::string>& roots);

// INVALID_ARGUMENT unless `name` is 1-128 characters of [A-Za-z0-9._-] starting with a letter
// or digit (it becomes a metrics label and a file name).
absl::Status ValidateModelName(std::string_view name);

// A model directory (or a .gguf file, which is a model too) inside a root.
struct ModelLocation {
  std::string root;       // ModelRoot::canonical
  std::string path;       // relative to root, without symlinks
  std::string directory;  // root + "/" + path: what Model::Load takes
};

// Resolves a client's path: relative to the first root that has it, or absolute inside a
// root. INVALID_ARGUMENT for an empty path, a ".." component or something that is not a
// directory or a .gguf file; PERMISSION_DENIED for an absolute path outside every root or a symlink
// that leaves its root; NOT_FOUND when no root has it.
absl::StatusOr<ModelLocation> ResolveModelPath(const std::vector<ModelRoot>& roots,
                                               std::string_view requested);

// Resolves `relative` (no "..") under one canonical root, with the checks above. Loads call it
// again, so a symlink swapped in after the import cannot lead outside the root.
absl::StatusOr<ModelLocation> ResolveUnderRoot(const std::string& canonical_root,
                                               std::string_view relative);

// Resolves `file` inside a model directory; PERMISSION_DENIED when a symlink takes it outside
// `location.root`, NOT_FOUND when missing.
absl::StatusOr<std::string> ResolveModelFile(const ModelLocation& location, std::string_view file);

}  // namespace ghost

#endif  // GHOST_ENGINE_REGISTRY_MODEL_PATH_H_
