// A compression job function for the job manager tests: a real function that does what the
// compressor promises (progress, a partial directory of the job's own with its ownership marker,
// claimed as the output with a rename that replaces nothing, cancellation between steps) but
// waits for the test to let it finish, so tests can act while a job runs.
#ifndef GHOST_TESTS_ENGINE_JOBS_JOB_TEST_UTIL_H_
#define GHOST_TESTS_ENGINE_JOBS_JOB_TEST_UTIL_H_

#include <atomic>
#include <string>

#include "absl/synchronization/mutex.h"
#include "engine/jobs/job_manager.h"

namespace ghost::testing {

class GatedCompressor {
 public:
  // The function to give JobManagerOptions::compress; `this` must outlive the manager.
  jobs::CompressFn Function();

  // Lets running and future jobs finish.
  void Open();
  // Blocks until `count` jobs have started: made their partial directory, reported progress.
  void AwaitStarted(int count);
  int started() const;
  // Calibration text of the last job that started.
  std::string last_calibration_text() const;

 private:
  absl::StatusOr<compress::CompressReport> Run(const compress::CompressJobSpec& spec,
                                               const compress::CompressProgressFn& progress,
                                               const std::atomic<bool>& cancel);

  mutable absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_calibration_text_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ghost::testing

#endif  // GHOST_TESTS_ENGINE_JOBS_JOB_TEST_UTIL_H_
