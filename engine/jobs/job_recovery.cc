// Start-up: the stored jobs come back, and those the last stop interrupted are failed with
// nothing of their output left behind.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/common/file.h"
#include "engine/common/log.h"
#include "engine/common/owned_directory.h"
#include "engine/jobs/job_manager_impl.h"
#include "engine/jobs/job_spec.h"

namespace ghost::jobs {

void JobManagerImpl::Restore() {
  std::vector<CompressJob> stored = store_.ReadAll();
  absl::MutexLock lock(&mu_);
  for (CompressJob& job : stored) {
    if (!IsDone(job.state)) RecoverInterrupted(job);
    next_sequence_ = std::max(next_sequence_, job.sequence + 1);
    if (!job.request.request_id.empty()) id_of_request_[job.request.request_id] = job.id;
    jobs_[job.id].job = std::move(job);
  }
}

void JobManagerImpl::RecoverInterrupted(CompressJob& job) {
  // The job may have died anywhere: while writing the partial directory, after renaming it
  // into place, or after registering it but before recording success. Undo each.
  // Each step removes only directories that carry the job's ownership marker: the output path
  // may hold a directory the job never wrote (a user's copy, another server's model).
  const absl::StatusOr<ModelInfo> output = options_.registry->Get(job.request.output_model);
  const bool registered_by_job = output.ok() && output->created_by_server &&
                                 JoinPath(output->root, output->path) == job.output_dir &&
                                 IsOwnedBy(job.output_dir, job.id);
  if (registered_by_job) {
    // Delete removes the directory of a server-created model with its entry.
    if (absl::Status deleted = options_.registry->Delete(job.request.output_model); !deleted.ok()) {
      LogWarning(absl::StrCat("compression job ", job.id, ": model ", job.request.output_model,
                              " not removed: ", deleted.message()));
    }
  }
  // A registered output stays unless it was the job's own and Delete took it.
  RemoveJobOutput(job.output_dir, job.id, /*remove_output=*/!output.ok());
  job.error = absl::AbortedError(kInterruptedReason);
  if (absl::Status status = TransitionJobState(job.state, JobState::kFailed); !status.ok()) {
    LogWarning(std::string(status.message()));
  }
  job.finished = absl::Now();
  job.progress.phase = "done";
  LogInfo(absl::StrCat("compression job ", job.id, " failed: ", kInterruptedReason));
  Persist(job);
}

}  // namespace ghost::jobs
