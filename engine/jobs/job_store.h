// Where compression jobs live on disk: one file per job, <registry_dir>/operations/<id>.json,
// replaced durably (temp file -> fsync -> rename -> fsync(dir)) at every state change. The
// registry's lock on registry_dir keeps a second server off these files too.
#ifndef GHOST_ENGINE_JOBS_JOB_STORE_H_
#define GHOST_ENGINE_JOBS_JOB_STORE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/jobs/compress_job.h"

namespace ghost::jobs {

class JobStore {
 public:
  // Creates <registry_dir>/operations when missing.
  static absl::StatusOr<JobStore> Open(const std::string& registry_dir);

  // Every stored job. A file that does not parse (edited by hand) is logged and skipped, so a
  // bad file cannot keep the server from starting.
  std::vector<CompressJob> ReadAll() const;
  absl::Status Write(const CompressJob& job) const;
  absl::Status Remove(const std::string& id) const;

 private:
  explicit JobStore(std::string directory) : directory_(std::move(directory)) {}
  std::string FileOf(const std::string& id) const;

  std::string directory_;
};

// The JSON form of a job (exposed for tests). The calibration text itself is not stored.
std::string JobToJson(const CompressJob& job);
// INVALID_ARGUMENT naming the first missing or mistyped field.
absl::StatusOr<CompressJob> JobFromJson(const std::string& text);

}  // namespace ghost::jobs

#endif  // GHOST_ENGINE_JOBS_JOB_STORE_H_
