// A compression job as the job manager keeps it, persists it and hands it out: what was asked,
// its life-cycle state, progress and outcome. Plain data; no gRPC types (the server converts).
//   queued -> running -> succeeded | failed | cancelled
//   queued -> cancelled | failed                  (cancelled before it ran; server stopped)
#ifndef GHOST_ENGINE_JOBS_COMPRESS_JOB_H_
#define GHOST_ENGINE_JOBS_COMPRESS_JOB_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/compressor/model_compressor.h"

namespace ghost::jobs {

enum class JobState { kQueued, kRunning, kSucceeded, kFailed, kCancelled };
inline constexpr JobState kAllJobStates[] = {JobState::kQueued, JobState::kRunning,
                                             JobState::kSucceeded, JobState::kFailed,
                                             JobState::kCancelled};

const char* JobStateName(JobState state);  // "queued", "running", ...
std::optional<JobState> ParseJobState(std::string_view name);
bool IsDone(JobState state);
// Moves `state` to `next`; INTERNAL (state unchanged) for a transition the machine forbids.
[[nodiscard]] absl::Status TransitionJobState(JobState& state, JobState next);

// The reason recorded for jobs that were queued or running when the server stopped; they are
// failed rather than re-run (a restart should not silently start hours of work).
inline constexpr char kInterruptedReason[] =
    "interrupted: the server stopped while the job was running";

// What a client asked for. A reused request_id must come with the same fields (SameRequest).
struct CompressJobRequest {
  std::string request_id;    // optional; makes Submit idempotent
  std::string model;         // registered source model
  std::string output_model;  // new model name; its directory goes under the first model root
  std::string scheme;        // empty: "ternary"
  int block_size = 0;        // 0: 64
  bool remove_dead_neurons = false;
  float target_sparsity = 0;
  std::string calibration_text;  // empty: the source model's validation-sample.txt
  std::string output_format;     // empty: "safetensors"; "gguf" also writes model.gguf

  // Fills the documented defaults of empty fields.
  void ApplyDefaults();
};

// A stable 64-bit fingerprint (FNV-1a) of a calibration text: jobs remember it instead of the
// text, which may be megabytes.
uint64_t CalibrationFingerprint(std::string_view text);

struct JobProgress {
  // "queued", "starting", then the compressor's phases ("profiling", ...), then "done".
  std::string phase = "queued";
  int layer = 0;
  int num_layers = 0;
  float percent = 0;
};

struct CompressJob {
  std::string id;              // the operation is "operations/<id>"
  int64_t sequence = 0;        // creation order, for listing
  CompressJobRequest request;  // calibration_text is not kept (see calibration_fingerprint)
  uint64_t calibration_fingerprint = 0;
  std::string output_dir;  // absolute, under the first model root
  JobState state = JobState::kQueued;
  JobProgress progress;
  absl::Time created = absl::InfinitePast();
  absl::Time started = absl::InfinitePast();   // when it began running
  absl::Time finished = absl::InfinitePast();  // when it became done
  absl::Status error;                          // why it failed or was cancelled
  compress::CompressReport report;             // when it succeeded

  // Seconds spent running: 0 while queued, up to `now` while running.
  double ElapsedSeconds(absl::Time now) const;
  // Whether `other` (defaults applied) asks for the same job as this one's request.
  bool SameRequest(const CompressJobRequest& other) const;
};

}  // namespace ghost::jobs

#endif  // GHOST_ENGINE_JOBS_COMPRESS_JOB_H_
