// `ghostbench stream --load_only`, the child process that measures the memory of one load: it
// prints the peak RSS, the peak of anonymous memory and the RSS after the load (kB), loads with
// the budget it is given (a streamed load writes the layer file), and fails on a load that fails.
// The sizes are the kernel's counters; only their consistency is asserted.
#include <filesystem>
#include <sstream>
#include <string>

#include "engine/model/model.h"
#include "gtest/gtest.h"
#include "tests/engine/test_model.h"
#include "tests/run_command.h"

namespace ghost {
namespace {

class GhostbenchStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = ghost::testing::MakeTempDir("ghostbench_stream_model");
    cache_ = ghost::testing::MakeTempDir("ghostbench_stream_cache");
    // Layers large beside the embedding, so that half the weights hold the slots.
    ghost::testing::WriteTinyLlama(model_, ghost::testing::WideLayerSpec(8));
    absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(model_);
    ASSERT_TRUE(model.ok()) << model.status();
    full_ = (*model)->summary().resident_weight_bytes;
  }
  void TearDown() override {
    std::filesystem::remove_all(model_);
    std::filesystem::remove_all(cache_);
  }

  int LoadOnly(std::int64_t budget, std::string& output) {
    const std::string command = std::string(GHOSTBENCH_PATH) + " stream --load_only " + model_ +
                                " " + cache_ + " " + std::to_string(budget) + " 2 2>/dev/null";
    output.clear();
    return ghost::testing::RunCommand(command, output);
  }
  bool HasLayerFile() const {
    for (const auto& entry : std::filesystem::directory_iterator(cache_)) {
      if (entry.path().extension() == ".layers") return true;
    }
    return false;
  }

  std::string model_, cache_;
  std::int64_t full_ = 0;
};

TEST_F(GhostbenchStreamTest, PrintsTheLoadsMemoryAndStreamsUnderABudget) {
  std::string output;
  ASSERT_EQ(LoadOnly(full_ / 2, output), 0) << output;
  std::istringstream numbers(output);
  long peak_kb = 0, peak_anon_kb = 0, rss_kb = 0;
  ASSERT_TRUE(numbers >> peak_kb >> peak_anon_kb >> rss_kb) << output;
  EXPECT_GT(rss_kb, 0);
  EXPECT_GT(peak_anon_kb, 0);
  EXPECT_GE(peak_kb, rss_kb);
  EXPECT_GE(peak_kb, peak_anon_kb);
  EXPECT_TRUE(HasLayerFile());
}

TEST_F(GhostbenchStreamTest, AResidentLoadWritesNoLayerFileAndAFailedLoadFails) {
  std::string output;
  ASSERT_EQ(LoadOnly(0, output), 0) << output;
  EXPECT_FALSE(HasLayerFile());
  EXPECT_NE(LoadOnly(4096, output), 0);  // not even the slots fit
  EXPECT_TRUE(output.empty()) << output;
}

}  // namespace
}  // namespace ghost
