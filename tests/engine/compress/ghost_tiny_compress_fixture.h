// A fixture for tests that compress the project's real model, models/ghost-tiny: an output root
// of the test's own (pid and test name in its path, since suites run concurrently), the start of
// the model's validation sample as calibration text, and a job spec writing under the root.
#ifndef GHOST_TESTS_ENGINE_COMPRESS_GHOST_TINY_COMPRESS_FIXTURE_H_
#define GHOST_TESTS_ENGINE_COMPRESS_GHOST_TINY_COMPRESS_FIXTURE_H_

#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/common/file.h"
#include "engine/compressor/model_compressor.h"
#include "gtest/gtest.h"

namespace ghost::compress {

inline const std::string kGhostTinyDir = std::string(GHOST_SOURCE_DIR) + "/models/ghost-tiny";

class GhostTinyCompressTest : public ::testing::Test {
 protected:
  // Calibration text of `text_bytes` bytes keeps each test within seconds.
  explicit GhostTinyCompressTest(std::size_t text_bytes) : text_bytes_(text_bytes) {}

  void SetUp() override {
    namespace fs = std::filesystem;
    if (!fs::exists(kGhostTinyDir + "/model.safetensors")) GTEST_SKIP() << "no ghost-tiny";
    out_root_ = fs::path(::testing::TempDir()) /
                ("compress-" + std::to_string(getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(out_root_);
    fs::create_directories(out_root_);
    absl::StatusOr<std::string> text = ReadFileToString(kGhostTinyDir + "/validation-sample.txt");
    ASSERT_TRUE(text.ok()) << text.status();
    text_ = text->substr(0, text_bytes_);
  }
  void TearDown() override { std::filesystem::remove_all(out_root_); }

  CompressJobSpec Spec(const std::string& name) const {
    CompressJobSpec spec;
    spec.source_dir = kGhostTinyDir;
    spec.output_dir = (out_root_ / name).string();
    spec.calibration_text = text_;
    return spec;
  }

  // Entries of the output root named after `name`: its directory and any partial directory.
  std::vector<std::string> EntriesFor(const std::string& name) const {
    std::vector<std::string> found;
    for (const auto& entry : std::filesystem::directory_iterator(out_root_)) {
      const std::string file = entry.path().filename().string();
      if (file == name || file.rfind(name + ".", 0) == 0) found.push_back(file);
    }
    return found;
  }

  const std::size_t text_bytes_;
  std::filesystem::path out_root_;
  std::string text_;
  std::atomic<bool> no_cancel_{false};
};

}  // namespace ghost::compress

#endif  // GHOST_TESTS_ENGINE_COMPRESS_GHOST_TINY_COMPRESS_FIXTURE_H_
