#include "engine/jobs/job_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "engine/common/log.h"
#include "engine/common/status_macros.h"
#include "engine/jobs/job_manager_impl.h"
#include "engine/jobs/job_spec.h"
#include "engine/registry/model_path.h"

namespace ghost::jobs {
namespace {

absl::Status UnknownJob(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("operation \"operations/", id, "\" does not exist"));
}

}  // namespace

absl::Status JobManagerOptions::Validate() const {
  if (registry == nullptr) return absl::InvalidArgumentError("the job manager needs a registry");
  if (registry_dir.empty()) return absl::InvalidArgumentError("registry_dir is empty");
  if (output_root.empty()) return absl::InvalidArgumentError("output_root is empty");
  if (workers < 1) return absl::InvalidArgumentError("--compression_workers must be >= 1");
  if (max_queued < 0) return absl::InvalidArgumentError("max_queued must be >= 0");
  if (!compress) return absl::InvalidArgumentError("the job manager needs a compress function");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<CompressJobManager>> CompressJobManager::Create(
    const JobManagerOptions& options) {
  GHOST_RETURN_IF_ERROR(options.Validate());
  // Outputs are compared with registry entries, whose roots are canonical.
  GHOST_ASSIGN_OR_RETURN(const std::vector<ModelRoot> root,
                         ResolveModelRoots({options.output_root}));
  JobManagerOptions resolved = options;
  resolved.output_root = root.front().canonical;
  GHOST_ASSIGN_OR_RETURN(JobStore store, JobStore::Open(options.registry_dir));
  auto manager = std::make_unique<JobManagerImpl>(resolved, std::move(store));
  manager->Restore();
  manager->Start();
  return manager;
}

JobManagerImpl::JobManagerImpl(const JobManagerOptions& options, JobStore store)
    : options_(options), store_(std::move(store)), random_(std::random_device{}()) {}

void JobManagerImpl::Start() {
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  notifier_ = std::thread([this] { NotifierLoop(); });
}

std::string JobManagerImpl::NewId() {
  for (;;) {
    std::string id = absl::StrFormat("%016x", random_());
    if (!jobs_.contains(id)) return id;
  }
}

absl::StatusOr<CompressJob> JobManagerImpl::Submit(CompressJobRequest request) {
  request.ApplyDefaults();
  // The same request_id answers with its job before anything else is checked: a retry must
  // succeed even once the output model exists (because that job made it).
  const auto known_request =
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> std::optional<absl::StatusOr<CompressJob>> {
    const auto it = id_of_request_.find(request.request_id);
    if (request.request_id.empty() || it == id_of_request_.end()) return std::nullopt;
    const CompressJob& job = jobs_.at(it->second).job;
    if (job.SameRequest(request)) return job;
    return absl::InvalidArgumentError(
        absl::StrCat("request_id \"", request.request_id, "\" was used for a different request (",
                     "operations/", job.id, "); use a new request_id"));
  };
  // Checked before the files too: a running job's partial directory is not the user's concern.
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return absl::UnavailableError("the server is shutting down");
    if (auto known = known_request()) return *std::move(known);
    GHOST_RETURN_IF_ERROR(OutputFreeOfActiveJobs(request.output_model));
  }
  GHOST_ASSIGN_OR_RETURN(compress::CompressJobSpec spec,
                         ResolveCompressSpec(*options_.registry, options_.output_root, request));

  absl::MutexLock lock(&mu_);
  if (shutting_down_) return absl::UnavailableError("the server is shutting down");
  if (auto known = known_request()) return *std::move(known);
  GHOST_RETURN_IF_ERROR(OutputFreeOfActiveJobs(request.output_model));
  if (static_cast<int>(queue_.size()) >= options_.max_queued) {
    return absl::ResourceExhaustedError(absl::StrCat(
        options_.max_queued, " compression jobs are already waiting; try again later"));
  }
  const std::string id = NewId();
  Entry& entry = jobs_[id];
  CompressJob& job = entry.job;
  job.id = id;
  job.sequence = next_sequence_++;
  job.calibration_fingerprint = CalibrationFingerprint(request.calibration_text);
  job.request = std::move(request);
  job.request.calibration_text.clear();
  job.output_dir = spec.output_dir;
  job.created = absl::Now();
  spec.owner = id;  // the partial directory is the job's own, and marked so
  entry.spec = std::move(spec);
  // A job that is not on disk could run twice after a restart; refuse it instead.
  if (absl::Status saved = store_.Write(job); !saved.ok()) {
    LogWarning(absl::StrCat("compression job not saved: ", saved.message()));
    jobs_.erase(id);
    return absl::InternalError("the compression job could not be saved; see the server log");
  }
  if (!job.request.request_id.empty()) id_of_request_[job.request.request_id] = id;
  queue_.push_back(id);
  LogInfo(absl::StrCat("compression job ", id, " queued: ", job.request.model, " -> ",
                       job.request.output_model, " (", job.request.scheme, ", block ",
                       job.request.block_size, ")"));
  return job;
}

absl::Status JobManagerImpl::OutputFreeOfActiveJobs(const std::string& output_model) const {
  for (const auto& [id, entry] : jobs_) {
    if (!IsDone(entry.job.state) && entry.job.request.output_model == output_model) {
      return absl::AlreadyExistsError(absl::StrCat(
          "model \"", output_model, "\" is being written by compression job operations/", id,
          "; wait for it, cancel it, or choose another output_model"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CompressJob> JobManagerImpl::Get(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  const auto it = jobs_.find(id);
  if (it == jobs_.end()) return UnknownJob(id);
  return it->second.job;
}

std::vector<CompressJob> JobManagerImpl::List() const {
  std::vector<CompressJob> jobs;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, entry] : jobs_) jobs.push_back(entry.job);
  }
  std::sort(jobs.begin(), jobs.end(),
            [](const CompressJob& a, const CompressJob& b) { return a.sequence < b.sequence; });
  return jobs;
}

absl::StatusOr<CompressJob> JobManagerImpl::Cancel(const std::string& id) {
  std::vector<Delivery> deliveries;
  CompressJob job;
  {
    absl::MutexLock lock(&mu_);
    const auto it = jobs_.find(id);
    if (it == jobs_.end()) return UnknownJob(id);
    Entry& entry = it->second;
    if (entry.job.state == JobState::kQueued) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), id));
      entry.job.error = absl::CancelledError("cancelled before it started");
      SetState(entry, JobState::kCancelled, deliveries);
    } else if (entry.job.state == JobState::kRunning) {
      // The worker sees the flag within a chunk of work and ends the job CANCELLED (FinishJob).
      entry.cancel_requested = true;
      entry.cancel->store(true);
    } else {
      return absl::FailedPreconditionError(absl::StrCat("operation \"operations/", id, "\" is ",
                                                        JobStateName(entry.job.state),
                                                        " already; there is nothing to cancel"));
    }
    job = entry.job;
  }
  Deliver(deliveries);
  return job;
}

absl::Status JobManagerImpl::Delete(const std::string& id) {
  absl::MutexLock lock(&mu_);
  const auto it = jobs_.find(id);
  if (it == jobs_.end()) return UnknownJob(id);
  const CompressJob& job = it->second.job;
  if (!IsDone(job.state)) {
    return absl::FailedPreconditionError(absl::StrCat("operation \"operations/", id, "\" is ",
                                                      JobStateName(job.state),
                                                      "; cancel it and wait until it is done"));
  }
  if (absl::Status removed = store_.Remove(id); !removed.ok()) {
    LogWarning(std::string(removed.message()));
    return absl::InternalError("the operation could not be deleted; see the server log");
  }
  if (!job.request.request_id.empty()) id_of_request_.erase(job.request.request_id);
  jobs_.erase(it);
  return absl::OkStatus();
}

void JobManagerImpl::SetState(Entry& entry, JobState next, std::vector<Delivery>& deliveries) {
  CompressJob& job = entry.job;
  if (absl::Status status = TransitionJobState(job.state, next); !status.ok()) {
    LogWarning(absl::StrCat("compression job ", job.id, ": ", status.message()));
    return;
  }
  if (next == JobState::kRunning) {
    job.started = absl::Now();
    job.progress.phase = "starting";  // until the compressor reports its first phase
  }
  if (IsDone(next)) {
    job.finished = absl::Now();
    job.progress.phase = "done";
    if (next == JobState::kSucceeded) job.progress.percent = 100;
    LogInfo(absl::StrCat("compression job ", job.id, " ", JobStateName(next),
                         job.error.ok() ? "" : ": ", job.error.message()));
  }
  Persist(job);
  if (IsDone(next)) TakeWaiters(job.id, deliveries);
}

void JobManagerImpl::Persist(const CompressJob& job) const {
  // A failed write leaves the previous state on disk; the job goes on in memory, and a
  // restart would at worst report it interrupted.
  if (absl::Status saved = store_.Write(job); !saved.ok()) {
    LogWarning(absl::StrCat("compression job ", job.id, " not saved: ", saved.message()));
  }
}

JobCounts JobManagerImpl::CountByState() const {
  JobCounts counts{};
  absl::MutexLock lock(&mu_);
  for (const auto& [id, entry] : jobs_) ++counts[static_cast<size_t>(entry.job.state)];
  return counts;
}

absl::StatusOr<uint64_t> JobManagerImpl::WaitAsync(const std::string& id, absl::Time deadline,
                                                   WaitCallback done) {
  std::vector<Delivery> deliveries;
  uint64_t handle = 0;
  {
    absl::MutexLock lock(&mu_);
    const auto it = jobs_.find(id);
    if (it == jobs_.end()) return UnknownJob(id);
    if (IsDone(it->second.job.state) || shutting_down_ || deadline <= absl::Now()) {
      deliveries.push_back({std::move(done), it->second.job});
    } else {
      handle = next_wait_++;
      waiters_.emplace(handle, Waiter{id, deadline, std::move(done)});
      waiters_changed_.Signal();
    }
  }
  Deliver(deliveries);
  return handle;
}

void JobManagerImpl::CancelWait(uint64_t handle) {
  absl::MutexLock lock(&mu_);
  waiters_.erase(handle);
}

void JobManagerImpl::TakeWaiters(const std::string& id, std::vector<Delivery>& deliveries) {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->second.id != id) {
      ++it;
      continue;
    }
    deliveries.push_back({std::move(it->second.done), jobs_.at(id).job});
    it = waiters_.erase(it);
  }
}

void JobManagerImpl::Deliver(std::vector<Delivery>& deliveries) {
  for (Delivery& delivery : deliveries) std::move(delivery.done)(std::move(delivery.job));
  deliveries.clear();
}

void JobManagerImpl::NotifierLoop() {
  std::vector<Delivery> due;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (shutting_down_) return;  // Shutdown delivers what is left
      const absl::Time now = absl::Now();
      absl::Time next = absl::InfiniteFuture();
      for (auto it = waiters_.begin(); it != waiters_.end();) {
        if (it->second.deadline <= now) {
          due.push_back({std::move(it->second.done), jobs_.at(it->second.id).job});
          it = waiters_.erase(it);
        } else {
          next = std::min(next, it->second.deadline);
          ++it;
        }
      }
      if (due.empty()) waiters_changed_.WaitWithDeadline(&mu_, next);
    }
    Deliver(due);
  }
}

void JobManagerImpl::Shutdown() {
  absl::MutexLock shutdown(&shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  std::vector<Delivery> deliveries;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    for (const std::string& id : queue_) {
      Entry& entry = jobs_.at(id);
      entry.job.error = absl::AbortedError(kInterruptedReason);
      SetState(entry, JobState::kFailed, deliveries);
    }
    queue_.clear();
    for (auto& [id, entry] : jobs_) {
      if (entry.job.state == JobState::kRunning) entry.cancel->store(true);
    }
    waiters_changed_.Signal();
  }
  Deliver(deliveries);
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  if (notifier_.joinable()) notifier_.join();
  {
    absl::MutexLock lock(&mu_);
    for (auto& [handle, waiter] : waiters_) {
      deliveries.push_back({std::move(waiter.done), jobs_.at(waiter.id).job});
    }
    waiters_.clear();
  }
  Deliver(deliveries);
}

absl::StatusOr<CompressJob> WaitForJob(CompressJobManager& manager, const std::string& id,
                                       absl::Time deadline) {
  absl::Notification notified;
  CompressJob result;
  const auto deliver = [&](CompressJob job) {
    result = std::move(job);
    notified.Notify();
  };
  GHOST_RETURN_IF_ERROR(manager.WaitAsync(id, deadline, deliver).status());
  notified.WaitForNotification();
  return result;
}

}  // namespace ghost::jobs
