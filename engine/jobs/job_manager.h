// Compression jobs run as long-running operations: submitted over the API, run on a worker
// pool of their own (separate from inference), persisted under the registry directory at every
// state change, and registered as a new model when they succeed.
//
// Crash semantics: a job that was queued or running when the server stopped (crash or
// shutdown) is FAILED with kInterruptedReason on the next start, and whatever it had written
// (its partial directory, or an output directory not yet registered) is removed, so a model
// appears whole or not at all. Only directories carrying the job's own ownership marker are
// removed (engine/common/owned_directory.h): a directory a user or another server put at the
// output path is never touched. Jobs are not re-run automatically; submit them again.
//
// Outputs are exclusive across processes: each job assembles its model in a partial directory
// of its own ("<output>.<job id>.partial", created exclusively) and claims the output name with
// a rename that never replaces anything, so of two servers sharing a model root and writing
// the same output name, one job succeeds and the other fails with ALREADY_EXISTS.
//
// Error messages of jobs name files relative to the model root, never by server path.
//
// Idempotency: a request_id names one job for as long as that job exists (restarts included).
// Submitting it again with the same fields returns that job; with different fields it is
// INVALID_ARGUMENT. DeleteOperation frees the request_id.
#ifndef GHOST_ENGINE_JOBS_JOB_MANAGER_H_
#define GHOST_ENGINE_JOBS_JOB_MANAGER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/compressor/model_compressor.h"
#include "engine/jobs/compress_job.h"
#include "engine/registry/registry.h"

namespace ghost::jobs {

// Does the work of one job on a worker thread; CompressModelDirectory in the server.
using CompressFn = std::function<absl::StatusOr<compress::CompressReport>(
    const compress::CompressJobSpec&, const compress::CompressProgressFn&,
    const std::atomic<bool>& cancel)>;

// Number of jobs in each state, indexed by JobState.
using JobCounts = std::array<int, std::size(kAllJobStates)>;

struct JobManagerOptions {
  ModelRegistry* registry = nullptr;  // must outlive the manager
  std::string registry_dir;           // jobs persist in <registry_dir>/operations
  std::string output_root;            // model root that receives output directories
  int workers = 1;                    // jobs running at once
  int max_queued = 16;                // jobs waiting beyond those; more are RESOURCE_EXHAUSTED
  CompressFn compress;

  absl::Status Validate() const;
};

class CompressJobManager {
 public:
  // Restores the stored jobs, fails and cleans up those interrupted by the last stop, and
  // starts the workers.
  static absl::StatusOr<std::unique_ptr<CompressJobManager>> Create(
      const JobManagerOptions& options);
  virtual ~CompressJobManager() = default;

  // Checks the request at once and queues the job. NOT_FOUND for an unknown source model;
  // INVALID_ARGUMENT for a bad field (naming the accepted values), an empty calibration text
  // without a bundled validation-sample.txt, a calibration text over kMaxCalibrationTextBytes,
  // a source that is compressed already, or a reused request_id with other fields;
  // ALREADY_EXISTS when the output name is the output of another unfinished job, a registered
  // model or an existing directory; RESOURCE_EXHAUSTED when the queue is full.
  virtual absl::StatusOr<CompressJob> Submit(CompressJobRequest request) = 0;
  // NOT_FOUND for an unknown id.
  virtual absl::StatusOr<CompressJob> Get(const std::string& id) const = 0;
  // Every job, oldest first.
  virtual std::vector<CompressJob> List() const = 0;
  // How many jobs are in each state (the ghost_compression_jobs gauge).
  virtual JobCounts CountByState() const = 0;
  // A queued job is cancelled at once; a running one is asked to stop (it does within a chunk
  // of work) and ends CANCELLED without leaving a model. FAILED_PRECONDITION for a finished
  // job (AIP-151: there is nothing to cancel); NOT_FOUND for an unknown id.
  virtual absl::StatusOr<CompressJob> Cancel(const std::string& id) = 0;
  // Forgets a finished job (its model, if any, stays). FAILED_PRECONDITION while it runs.
  virtual absl::Status Delete(const std::string& id) = 0;

  using WaitCallback = absl::AnyInvocable<void(CompressJob) &&>;
  // Calls `done` once with the job when it is done, at `deadline`, or at Shutdown, whichever
  // comes first; from a manager thread with no lock held, or before returning when the job is
  // already done. NOT_FOUND (and no call) for an unknown id. Returns a handle for CancelWait.
  virtual absl::StatusOr<uint64_t> WaitAsync(const std::string& id, absl::Time deadline,
                                             WaitCallback done) = 0;
  // Drops a pending wait; a call already being delivered may still arrive.
  virtual void CancelWait(uint64_t handle) = 0;

  // Stops the workers: queued jobs and the running ones (asked to stop) end FAILED with
  // kInterruptedReason. Idempotent; the destructor calls it.
  virtual void Shutdown() = 0;
};

// Blocking form of WaitAsync, for tests and tools.
absl::StatusOr<CompressJob> WaitForJob(CompressJobManager& manager, const std::string& id,
                                       absl::Time deadline);

}  // namespace ghost::jobs

#endif  // GHOST_ENGINE_JOBS_JOB_MANAGER_H_
