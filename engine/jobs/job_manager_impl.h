// The job manager's internals: one mutex over the jobs, the queue and the waits; worker
// threads that run jobs; a notifier thread that ends waits at their deadlines.
#ifndef GHOST_ENGINE_JOBS_JOB_MANAGER_IMPL_H_
#define GHOST_ENGINE_JOBS_JOB_MANAGER_IMPL_H_

#include <deque>
#include <map>
#include <random>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "engine/jobs/job_manager.h"
#include "engine/jobs/job_store.h"

namespace ghost::jobs {

class JobManagerImpl final : public CompressJobManager {
 public:
  JobManagerImpl(const JobManagerOptions& options, JobStore store);
  ~JobManagerImpl() override { Shutdown(); }

  // Loads the stored jobs and fails the interrupted ones (job_recovery.cc); before Start.
  void Restore();
  void Start();

  absl::StatusOr<CompressJob> Submit(CompressJobRequest request) override;
  absl::StatusOr<CompressJob> Get(const std::string& id) const override;
  std::vector<CompressJob> List() const override;
  JobCounts CountByState() const override;
  absl::StatusOr<CompressJob> Cancel(const std::string& id) override;
  absl::Status Delete(const std::string& id) override;
  absl::StatusOr<uint64_t> WaitAsync(const std::string& id, absl::Time deadline,
                                     WaitCallback done) override;
  void CancelWait(uint64_t handle) override;
  void Shutdown() override;

 private:
  struct Entry {
    CompressJob job;
    compress::CompressJobSpec spec;  // until the job starts (it holds the calibration text)
    std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
    bool cancel_requested = false;  // by a client, as opposed to Shutdown
  };
  struct Waiter {
    std::string id;
    absl::Time deadline;
    WaitCallback done;
  };
  // A wait ending: called outside the lock.
  struct Delivery {
    WaitCallback done;
    CompressJob job;
  };

  // job_manager.cc
  std::string NewId() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves a job to `next` (stamping its times) and persists it; the waits it ends are appended
  // to `deliveries`.
  void SetState(Entry& entry, JobState next, std::vector<Delivery>& deliveries)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Persist(const CompressJob& job) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TakeWaiters(const std::string& id, std::vector<Delivery>& deliveries)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void Deliver(std::vector<Delivery>& deliveries);
  // ALREADY_EXISTS when an unfinished job writes `output_model`.
  absl::Status OutputFreeOfActiveJobs(const std::string& output_model) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NotifierLoop();

  // job_worker.cc
  bool WorkAvailable() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return shutting_down_ || !queue_.empty();
  }
  void WorkerLoop();
  void ReportProgress(const std::string& id, const compress::CompressProgress& progress);
  void FinishJob(const std::string& id, const compress::CompressJobSpec& spec,
                 absl::StatusOr<compress::CompressReport> outcome);
  // The server directories job errors must not show: the output root and every model's root.
  std::vector<std::string> ServerRoots() const;

  // job_recovery.cc
  void RecoverInterrupted(CompressJob& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const JobManagerOptions options_;
  const JobStore store_;

  mutable absl::Mutex mu_;
  // std::map: entries stay put while others come and go.
  std::map<std::string, Entry> jobs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> id_of_request_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  int64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  std::mt19937_64 random_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  std::map<uint64_t, Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  uint64_t next_wait_ ABSL_GUARDED_BY(mu_) = 1;
  absl::CondVar waiters_changed_;

  absl::Mutex shutdown_mu_;  // serializes Shutdown; the threads are joined under it
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
  std::vector<std::thread> workers_;
  std::thread notifier_;
};

}  // namespace ghost::jobs

#endif  // GHOST_ENGINE_JOBS_JOB_MANAGER_IMPL_H_
