// Turns a client's compression request into the compressor's spec, checking it against the
// registry and the file system so that bad requests fail at submission, not minutes later.
#ifndef GHOST_ENGINE_JOBS_JOB_SPEC_H_
#define GHOST_ENGINE_JOBS_JOB_SPEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/compressor/model_compressor.h"
#include "engine/jobs/compress_job.h"
#include "engine/registry/registry.h"

namespace ghost::jobs {

// The calibration text used when a request brings none, looked up in the source directory.
inline constexpr char kBundledCalibrationFile[] = "validation-sample.txt";

// `request` has its defaults applied. NOT_FOUND for an unknown source model; INVALID_ARGUMENT
// for a bad field (from ValidateCompressSpec: a calibration text over kMaxCalibrationTextBytes
// included), a missing calibration text or a source that is compressed already; ALREADY_EXISTS
// when output_model is registered or <output_root>/<output_model> exists. The spec's owner is
// left empty for the caller to set.
absl::StatusOr<compress::CompressJobSpec> ResolveCompressSpec(const ModelRegistry& registry,
                                                              const std::string& output_root,
                                                              const CompressJobRequest& request);

// Removes what the job `owner` may have left when it did not succeed: its partial directory
// and, when `remove_output`, the output directory, each only if it carries the job's ownership
// marker (a directory someone else put at either path stays, whatever happened). An empty
// partial directory without a marker goes too: a crash just after creating it leaves that, and
// it holds nothing. Logs what it removes, keeps, and fails to remove.
void RemoveJobOutput(const std::string& output_dir, const std::string& owner, bool remove_output);

// `status` as a client may see it: every "<root>/" of `roots` (absolute server directories)
// removed from the message, so paths read relative to the model root, and a bare root named
// "the model root". Code and anything else unchanged.
absl::Status WithoutServerPaths(const absl::Status& status, std::vector<std::string> roots);

}  // namespace ghost::jobs

#endif  // GHOST_ENGINE_JOBS_JOB_SPEC_H_
