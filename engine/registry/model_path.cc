#include "engine/registry/model_path.h"

#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/common/status_macros.h"

namespace ghost {
namespace {

namespace fs = std::filesystem;

// Whether `path` is `root` or below it, compared by whole components.
bool IsUnder(const std::string& path, const std::string& root) {
  if (path.compare(0, root.size(), root) != 0) return false;
  return path.size() == root.size() || root == "/" || path[root.size()] == '/';
}

// The part of `path` below `root` ("" for the root itself); IsUnder must hold.
std::string Below(const std::string& path, const std::string& root) {
  if (path.size() == root.size()) return "";
  return path.substr(root == "/" ? 1 : root.size() + 1);
}

absl::Status RootItselfError() {
  return absl::InvalidArgumentError(
      "model path must name a directory inside a model root, not the root itself");
}

absl::Status CheckSyntax(std::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("model path is empty");
  if (path.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("model path contains a NUL byte");
  }
  for (absl::string_view part : absl::StrSplit(absl::string_view(path.data(), path.size()), '/')) {
    if (part == "..") {
      return absl::InvalidArgumentError(
          "model path must not contain '..'; name a directory inside a model root");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<ModelRoot>> ResolveModelRoots(const std::vector<std::string>& roots) {
  std::vector<ModelRoot> resolved;
  for (const std::string& root : roots) {
    std::error_code error;
    const fs::path canonical = fs::canonical(root, error);
    if (error || !fs::is_directory(canonical, error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("model root ", root, " is not an existing directory"));
    }
    resolved.push_back(
        ModelRoot{fs::absolute(root, error).lexically_normal().string(), canonical.string()});
    // "a/" normalizes to "a/"; compare without the trailing separator.
    std::string& configured = resolved.back().configured;
    if (configured.size() > 1 && configured.back() == '/') configured.pop_back();
  }
  return resolved;
}

absl::Status ValidateModelName(std::string_view name) {
  const auto allowed = [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  };
  bool ok = !name.empty() && name.size() <= 128 &&
            absl::ascii_isalnum(static_cast<unsigned char>(name[0]));
  for (const char c : name) ok = ok && allowed(c);
  if (!ok) {
    return absl::InvalidArgumentError(
        "model name must be 1-128 characters of letters, digits, '.', '_' or '-', starting "
        "with a letter or digit");
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelLocation> ResolveUnderRoot(const std::string& canonical_root,
                                               std::string_view relative) {
  GHOST_RETURN_IF_ERROR(CheckSyntax(relative));
  const std::string shown(relative);
  std::error_code error;
  const fs::path target = fs::canonical(fs::path(canonical_root) / fs::path(shown), error);
  if (error) {
    return absl::NotFoundError(
        absl::StrCat("no model directory \"", shown, "\" under the model root"));
  }
  const std::string directory = target.string();
  if (!IsUnder(directory, canonical_root)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "model path \"", shown, "\" leaves its model root (a symlink points outside it)"));
  }
  if (directory == canonical_root) return RootItselfError();
  // A model is a directory, or a single GGUF file (Model::Load reads either).
  const bool gguf_file = directory.size() > 5 &&
                         directory.compare(directory.size() - 5, 5, ".gguf") == 0 &&
                         fs::is_regular_file(target, error);
  if (!gguf_file && !fs::is_directory(target, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model path \"", shown, "\" is not a directory or a .gguf file"));
  }
  return ModelLocation{canonical_root, Below(directory, canonical_root), directory};
}

absl::StatusOr<ModelLocation> ResolveModelPath(const std::vector<ModelRoot>& roots,
                                               std::string_view requested) {
  GHOST_RETURN_IF_ERROR(CheckSyntax(requested));
  const fs::path path = fs::path(std::string(requested)).lexically_normal();
  if (path.is_absolute()) {
    // Decided on the text alone, so the reply says nothing about files outside the roots.
    std::string normal = path.string();
    if (normal.size() > 1 && normal.back() == '/') normal.pop_back();
    for (const ModelRoot& root : roots) {
      for (const std::string* prefix : {&root.configured, &root.canonical}) {
        if (!IsUnder(normal, *prefix)) continue;
        const std::string relative = Below(normal, *prefix);
        if (relative.empty()) return RootItselfError();
        return ResolveUnderRoot(root.canonical, relative);
      }
    }
    return absl::PermissionDeniedError("model path is outside the configured model roots");
  }
  const std::string relative = path.string();
  for (const ModelRoot& root : roots) {
    std::error_code error;
    if (fs::exists(fs::path(root.canonical) / path, error)) {
      return ResolveUnderRoot(root.canonical, relative);
    }
  }
  return absl::NotFoundError(
      absl::StrCat("no model directory \"", relative, "\" under the model roots"));
}

absl::StatusOr<std::string> ResolveModelFile(const ModelLocation& location, std::string_view file) {
  const std::string shown = absl::StrCat(location.path, "/", std::string(file));
  std::error_code error;
  const fs::path target = fs::canonical(fs::path(location.directory) / fs::path(file), error);
  if (error) return absl::NotFoundError(absl::StrCat(shown, " does not exist"));
  if (!IsUnder(target.string(), location.root)) {
    return absl::PermissionDeniedError(
        absl::StrCat(shown, " leaves its model root (a symlink points outside it)"));
  }
  return target.string();
}

}  // namespace ghost
