// The worker side of the job manager: take a queued job, run the compressor, register the
// model it wrote, record the outcome.
#include "absl/strings/str_cat.h"
#include "engine/common/log.h"
#include "engine/common/read_roots.h"
#include "engine/jobs/job_manager_impl.h"
#include "engine/jobs/job_spec.h"

namespace ghost::jobs {

void JobManagerImpl::WorkerLoop() {
  for (;;) {
    std::string id;
    compress::CompressJobSpec spec;
    std::shared_ptr<std::atomic<bool>> cancel;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &JobManagerImpl::WorkAvailable));
      if (shutting_down_) return;  // Shutdown has failed what is still queued
      id = queue_.front();
      queue_.pop_front();
      Entry& entry = jobs_.at(id);
      std::vector<Delivery> none;  // waits end only when a job is done
      SetState(entry, JobState::kRunning, none);
      spec = std::move(entry.spec);
      entry.spec = {};
      cancel = entry.cancel;
    }
    // The job reads the source model and reads back its output: both only under the roots.
    const ScopedReadRoots confined(ServerRoots());
    absl::StatusOr<compress::CompressReport> outcome = options_.compress(
        spec, [&](const compress::CompressProgress& progress) { ReportProgress(id, progress); },
        *cancel);
    FinishJob(id, spec, std::move(outcome));
  }
}

void JobManagerImpl::ReportProgress(const std::string& id,
                                    const compress::CompressProgress& progress) {
  absl::MutexLock lock(&mu_);
  JobProgress& current = jobs_.at(id).job.progress;
  const bool new_phase = current.phase != progress.phase;
  current = {progress.phase, progress.layer, progress.num_layers, progress.percent};
  // Progress is persisted per phase only: after a restart the job is failed anyway, and an
  // fsync per layer would cost more than it tells.
  if (new_phase) Persist(jobs_.at(id).job);
}

std::vector<std::string> JobManagerImpl::ServerRoots() const {
  std::vector<std::string> roots = {options_.output_root};
  for (const ModelInfo& model : options_.registry->List()) roots.push_back(model.root);
  return roots;
}

void JobManagerImpl::FinishJob(const std::string& id, const compress::CompressJobSpec& spec,
                               absl::StatusOr<compress::CompressReport> outcome) {
  std::string output_model;
  bool cancel_requested = false;
  {
    absl::MutexLock lock(&mu_);
    const Entry& entry = jobs_.at(id);
    output_model = entry.job.request.output_model;
    cancel_requested = entry.cancel_requested;
  }
  // A cancel that was accepted wins even over a job that just completed: the client was told
  // the job would stop, so its model must not appear.
  absl::Status registered;
  if (outcome.ok() && !cancel_requested) {
    registered =
        options_.registry->Import(output_model, spec.output_dir, ModelOrigin::kCreatedByServer)
            .status();
  }
  const bool succeeded = outcome.ok() && !cancel_requested && registered.ok();
  // The compressor removes its partial directory on errors; a successful output that may not
  // stay is ours to remove (and only ours: RemoveJobOutput checks the ownership marker).
  if (!succeeded) {
    RemoveJobOutput(spec.output_dir, spec.owner, /*remove_output=*/true);
    // Clients see errors without server paths; the log keeps them whole.
    const std::vector<std::string> roots = ServerRoots();
    if (!outcome.ok()) {
      LogWarning(absl::StrCat("compression job ", id, ": ", outcome.status().message()));
      outcome = WithoutServerPaths(outcome.status(), roots);
    }
    registered = WithoutServerPaths(registered, roots);
  }

  std::vector<Delivery> deliveries;
  {
    absl::MutexLock lock(&mu_);
    Entry& entry = jobs_.at(id);
    JobState next = JobState::kSucceeded;
    if (cancel_requested) {
      entry.job.error = absl::CancelledError("cancelled by CancelOperation");
      next = JobState::kCancelled;
    } else if (!outcome.ok()) {
      entry.job.error = absl::IsCancelled(outcome.status()) && shutting_down_
                            ? absl::AbortedError(kInterruptedReason)
                            : outcome.status();
      next = JobState::kFailed;
    } else if (!registered.ok()) {
      entry.job.error = absl::Status(
          registered.code(),
          absl::StrCat("the compressed model could not be registered: ", registered.message()));
      next = JobState::kFailed;
    } else {
      entry.job.report = *std::move(outcome);
    }
    SetState(entry, next, deliveries);
  }
  Deliver(deliveries);
}

}  // namespace ghost::jobs
