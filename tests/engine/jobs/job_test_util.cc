#include "tests/engine/jobs/job_test_util.h"

#include <filesystem>
#include <fstream>

#include "engine/common/owned_directory.h"

namespace ghost::testing {
namespace fs = std::filesystem;

jobs::CompressFn GatedCompressor::Function() {
  return [this](const compress::CompressJobSpec& spec, const compress::CompressProgressFn& progress,
                const std::atomic<bool>& cancel) { return Run(spec, progress, cancel); };
}

void GatedCompressor::Open() {
  absl::MutexLock lock(&mu_);
  open_ = true;
}

void GatedCompressor::AwaitStarted(int count) {
  absl::MutexLock lock(&mu_);
  struct Target {
    const int* started;
    int count;
  } target{&started_, count};
  mu_.Await(absl::Condition(
      +[](Target* t) { return *t->started >= t->count; }, &target));
}

int GatedCompressor::started() const {
  absl::MutexLock lock(&mu_);
  return started_;
}

std::string GatedCompressor::last_calibration_text() const {
  absl::MutexLock lock(&mu_);
  return last_calibration_text_;
}

absl::StatusOr<compress::CompressReport> GatedCompressor::Run(
    const compress::CompressJobSpec& spec, const compress::CompressProgressFn& progress,
    const std::atomic<bool>& cancel) {
  const std::string partial = compress::PartialOutputDir(spec.output_dir, spec.owner);
  if (absl::Status created = CreateOwnedDirectory(partial, spec.owner); !created.ok()) {
    return created;
  }
  // The source's config.json makes the output a directory the registry accepts.
  fs::copy_file(spec.source_dir + "/config.json", partial + "/config.json");
  progress({"profiling", 0, 2, 10});
  {
    absl::MutexLock lock(&mu_);
    ++started_;
    last_calibration_text_ = spec.calibration_text;
  }
  // Waits for the gate, checking the cancel flag as the compressor does between tensors.
  for (;;) {
    if (cancel.load()) {
      fs::remove_all(partial);
      return absl::CancelledError("compression cancelled");
    }
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&open_), absl::Milliseconds(5))) break;
  }
  progress({"quantizing", 2, 2, 90});
  std::ofstream(partial + "/quality_report.json") << "{}";
  if (absl::Status claimed = RenameNoReplace(partial, spec.output_dir); !claimed.ok()) {
    fs::remove_all(partial);
    return claimed;
  }
  compress::CompressReport report;
  report.scheme = spec.scheme;
  report.block_size = spec.block_size;
  report.bits_per_weight = 2.25;
  report.compression_ratio = 7.1;
  report.bits_per_byte_before = 1.9;
  report.bits_per_byte_after = 2.4;
  report.tensors = {{"model.layers.0.mlp.down_proj.weight", 0.93, 1e-4}};
  return report;
}

}  // namespace ghost::testing
