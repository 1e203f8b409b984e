#include "engine/jobs/compress_job.h"

#include "absl/strings/str_cat.h"

namespace ghost::jobs {

const char* JobStateName(JobState state) {
  switch (state) {
    case JobState::kQueued:
      return "queued";
    case JobState::kRunning:
      return "running";
    case JobState::kSucceeded:
      return "succeeded";
    case JobState::kFailed:
      return "failed";
    case JobState::kCancelled:
      return "cancelled";
  }
  return "?";
}

std::optional<JobState> ParseJobState(std::string_view name) {
  for (JobState state : kAllJobStates) {
    if (name == JobStateName(state)) return state;
  }
  return std::nullopt;
}

bool IsDone(JobState state) {
  return state == JobState::kSucceeded || state == JobState::kFailed ||
         state == JobState::kCancelled;
}

absl::Status TransitionJobState(JobState& state, JobState next) {
  bool allowed = false;
  switch (state) {
    case JobState::kQueued:
      allowed =
          next == JobState::kRunning || next == JobState::kCancelled || next == JobState::kFailed;
      break;
    case JobState::kRunning:
      allowed = IsDone(next);
      break;
    case JobState::kSucceeded:
    case JobState::kFailed:
    case JobState::kCancelled:
      break;
  }
  if (!allowed) {
    return absl::InternalError(absl::StrCat("job state ", JobStateName(state), " -> ",
                                            JobStateName(next), " is not allowed"));
  }
  state = next;
  return absl::OkStatus();
}

void CompressJobRequest::ApplyDefaults() {
  if (scheme.empty()) scheme = "ternary";
  if (block_size == 0) block_size = 64;
}

uint64_t CalibrationFingerprint(std::string_view text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

double CompressJob::ElapsedSeconds(absl::Time now) const {
  if (started == absl::InfinitePast()) return 0;
  const absl::Time end = finished == absl::InfinitePast() ? now : finished;
  return absl::ToDoubleSeconds(end - started);
}

bool CompressJob::SameRequest(const CompressJobRequest& other) const {
  return request.model == other.model && request.output_model == other.output_model &&
         request.scheme == other.scheme && request.block_size == other.block_size &&
         request.remove_dead_neurons == other.remove_dead_neurons &&
         request.target_sparsity == other.target_sparsity &&
         request.output_format == other.output_format &&
         calibration_fingerprint == CalibrationFingerprint(other.calibration_text);
}

}  // namespace ghost::jobs
