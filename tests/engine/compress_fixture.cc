#include "tests/engine/compress_fixture.h"

#include <atomic>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace ghost::testing {

std::string CompressForTest(compress::CompressJobSpec job, std::size_t calibration_bytes) {
  std::string text;
  while (text.size() < calibration_bytes) text += "The quick brown fox jumps over the lazy dog. ";
  job.calibration_text = text;
  const std::atomic<bool> no_cancel{false};
  absl::StatusOr<compress::CompressReport> report = compress::CompressModelDirectory(
      job, [](const compress::CompressProgress&) {}, no_cancel);
  EXPECT_TRUE(report.ok()) << report.status();
  return job.output_dir;
}

}  // namespace ghost::testing
