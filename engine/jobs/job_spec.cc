#include "engine/jobs/job_spec.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/common/file.h"
#include "engine/common/json.h"
#include "engine/common/log.h"
#include "engine/common/owned_directory.h"
#include "engine/common/status_macros.h"
#include "engine/registry/model_path.h"

namespace ghost::jobs {
namespace {

namespace fs = std::filesystem;

// The bundled sample, read through ResolveModelFile so a symlink cannot lead outside the root.
absl::StatusOr<std::string> BundledCalibrationText(const ModelInfo& source) {
  const ModelLocation location{source.root, source.path, JoinPath(source.root, source.path)};
  absl::StatusOr<std::string> file = ResolveModelFile(location, kBundledCalibrationFile);
  absl::StatusOr<std::string> text =
      file.ok() ? ReadFileToString(*file) : absl::StatusOr<std::string>(file.status());
  if (!text.ok() || text->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("calibration_text is empty and model \"", source.name, "\" has no ",
                     kBundledCalibrationFile, " to use instead; send some calibration text"));
  }
  return text;
}

absl::Status OutputNameFree(const ModelRegistry& registry, const std::string& output_root,
                            const std::string& output_model) {
  if (registry.Get(output_model).ok()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "model \"", output_model, "\" already exists; choose another output_model or delete it"));
  }
  std::error_code error;
  if (fs::symlink_status(JoinPath(output_root, output_model), error).type() !=
      fs::file_type::not_found) {
    return absl::AlreadyExistsError(absl::StrCat(
        "the name \"", output_model,
        "\" is taken: the model root holds something of that name that is not a registered "
        "model; choose another output_model"));
  }
  return absl::OkStatus();
}

// INVALID_ARGUMENT for a source whose config.json says it is compressed: its weights are codes,
// and the job would fail only after loading it.
absl::Status SourceIsUncompressed(const ModelInfo& source) {
  const ModelLocation location{source.root, source.path, JoinPath(source.root, source.path)};
  GHOST_ASSIGN_OR_RETURN(const std::string file, ResolveModelFile(location, "config.json"));
  GHOST_ASSIGN_OR_RETURN(const std::string text, ReadFileToString(file));
  const absl::StatusOr<nlohmann::json> config =
      ParseJsonStrict(text, absl::StrCat(source.path, "/config.json"));
  if (config.ok() && compress::IsCompressedConfig(*config)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model \"", source.name,
        "\" is compressed already (its config.json has a quantization_config); compress the "
        "model it was made from"));
  }
  // A config that no longer parses fails the job when it loads the source, with that message.
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<compress::CompressJobSpec> ResolveCompressSpec(const ModelRegistry& registry,
                                                              const std::string& output_root,
                                                              const CompressJobRequest& request) {
  if (request.model.empty()) return absl::InvalidArgumentError("model (the source) is required");
  if (request.output_model.empty()) return absl::InvalidArgumentError("output_model is required");
  if (absl::Status status = ValidateModelName(request.output_model); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("output_model: ", status.message()));
  }
  GHOST_ASSIGN_OR_RETURN(const ModelInfo source, registry.Get(request.model));
  GHOST_RETURN_IF_ERROR(SourceIsUncompressed(source));

  compress::CompressJobSpec spec;
  spec.source_dir = JoinPath(source.root, source.path);
  spec.output_dir = JoinPath(output_root, request.output_model);
  spec.scheme = request.scheme;
  spec.block_size = request.block_size;
  spec.remove_dead_neurons = request.remove_dead_neurons;
  spec.target_sparsity = request.target_sparsity;
  spec.output_format = request.output_format;
  spec.calibration_text = request.calibration_text;
  if (spec.calibration_text.empty()) {
    GHOST_ASSIGN_OR_RETURN(spec.calibration_text, BundledCalibrationText(source));
  }
  GHOST_RETURN_IF_ERROR(compress::ValidateCompressSpec(spec));
  GHOST_RETURN_IF_ERROR(OutputNameFree(registry, output_root, request.output_model));
  return spec;
}

void RemoveJobOutput(const std::string& output_dir, const std::string& owner, bool remove_output) {
  const std::string partial = compress::PartialOutputDir(output_dir, owner);
  for (const std::string& dir : {partial, output_dir}) {
    if (dir == output_dir && !remove_output) continue;
    std::error_code error;
    if (fs::symlink_status(dir, error).type() == fs::file_type::not_found) continue;
    if (IsOwnedBy(dir, owner)) {
      if (absl::Status removed = RemoveIfOwned(dir, owner); !removed.ok()) {
        LogWarning(std::string(removed.message()));
      } else {
        LogInfo(absl::StrCat("removed ", dir, ", left by compression job ", owner));
      }
    } else if (dir == partial && fs::is_empty(dir, error)) {
      fs::remove(dir, error);  // removes only an empty directory
    } else {
      LogWarning(absl::StrCat("kept ", dir, ": compression job ", owner,
                              " did not write it (no ownership marker of its own)"));
    }
  }
}

absl::Status WithoutServerPaths(const absl::Status& status, std::vector<std::string> roots) {
  // Longest first, so that a root nested in another is cut whole.
  std::sort(roots.begin(), roots.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  std::string message(status.message());
  for (const std::string& root : roots) {
    if (root.empty()) continue;
    message = absl::StrReplaceAll(message, {{root + "/", ""}});
    message = absl::StrReplaceAll(message, {{root, "the model root"}});
  }
  return absl::Status(status.code(), message);
}

}  // namespace ghost::jobs
