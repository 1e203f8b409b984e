#include "engine/jobs/job_spec.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "engine/common/file.h"
#include "engine/common/log.h"
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
  const std::string output_dir = JoinPath(output_root, output_model);
  std::error_code error;
  for (const std::string& dir : {output_dir, compress::PartialOutputDir(output_dir)}) {
    if (fs::symlink_status(dir, error).type() != fs::file_type::not_found) {
      // Only the name is echoed: the root is the server's business.
      return absl::AlreadyExistsError(
          absl::StrCat("a directory named \"", fs::path(dir).filename().string(),
                       "\" already exists in the model root; choose another output_model"));
    }
  }
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

  compress::CompressJobSpec spec;
  spec.source_dir = JoinPath(source.root, source.path);
  spec.output_dir = JoinPath(output_root, request.output_model);
  spec.scheme = request.scheme;
  spec.block_size = request.block_size;
  spec.remove_dead_neurons = request.remove_dead_neurons;
  spec.target_sparsity = request.target_sparsity;
  spec.calibration_text = request.calibration_text;
  if (spec.calibration_text.empty()) {
    GHOST_ASSIGN_OR_RETURN(spec.calibration_text, BundledCalibrationText(source));
  }
  GHOST_RETURN_IF_ERROR(compress::ValidateCompressSpec(spec));
  GHOST_RETURN_IF_ERROR(OutputNameFree(registry, output_root, request.output_model));
  return spec;
}

void RemoveJobOutput(const std::string& output_dir, bool remove_output) {
  std::error_code error;
  for (const std::string& dir : {compress::PartialOutputDir(output_dir), output_dir}) {
    if (dir == output_dir && !remove_output) continue;
    fs::remove_all(dir, error);
    if (error) LogWarning(absl::StrCat("cannot remove ", dir, ": ", error.message()));
  }
}

}  // namespace ghost::jobs
