// Turns a client's compression request into the compressor's spec, checking it against the
// registry and the file system so that bad requests fail at submission, not minutes later.
#ifndef GHOST_ENGINE_JOBS_JOB_SPEC_H_
#define GHOST_ENGINE_JOBS_JOB_SPEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "engine/compressor/model_compressor.h"
#include "engine/jobs/compress_job.h"
#include "engine/registry/registry.h"

namespace ghost::jobs {

// The calibration text used when a request brings none, looked up in the source directory.
inline constexpr char kBundledCalibrationFile[] = "validation-sample.txt";

// `request` has its defaults applied. NOT_FOUND for an unknown source model; INVALID_ARGUMENT
// for a bad field (from ValidateCompressSpec) or a missing calibration text; ALREADY_EXISTS when
// output_model is registered or <output_root>/<output_model> (or its partial directory) exists.
absl::StatusOr<compress::CompressJobSpec> ResolveCompressSpec(const ModelRegistry& registry,
                                                              const std::string& output_root,
                                                              const CompressJobRequest& request);

// Removes what a job that did not succeed may have left: its partial directory always, and the
// output directory when `remove_output` (the job made it but it must not stay). Logs failures.
void RemoveJobOutput(const std::string& output_dir, bool remove_output);

}  // namespace ghost::jobs

#endif  // GHOST_ENGINE_JOBS_JOB_SPEC_H_
