// The whole-model compressor as a job runs it (issue 16): progress and cancellation within a
// chunk of work in every phase, layer counters that are the model's, outputs that two writers
// never share and that never replace a directory, and a bounded calibration text. On a small
// slice of models/ghost-tiny's sample, so each run takes seconds.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "engine/common/file.h"
#include "engine/common/owned_directory.h"
#include "engine/compressor/chunked_evaluation.h"
#include "engine/compressor/model_compressor.h"
#include "engine/model/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/compress/ghost_tiny_compress_fixture.h"

namespace ghost::compress {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string& kModelDir = kGhostTinyDir;
constexpr int kLayers = 6;  // ghost-tiny's
constexpr int kWindow = 512;

class CompressorSafetyTest : public GhostTinyCompressTest {
 protected:
  CompressorSafetyTest() : GhostTinyCompressTest(2048) {}
};

// "layer 4/32" was shown for a 6-layer model (profiling counted windows as layers), and a job
// evaluating 200 KB of text said nothing, and heard no cancel, for over a minute.
TEST_F(CompressorSafetyTest, ProgressComesEveryChunkAndCountsTheModelsLayers) {
  std::vector<CompressProgress> progress;
  absl::StatusOr<CompressReport> report = CompressModelDirectory(
      Spec("out"), [&](const CompressProgress& p) { progress.push_back(p); }, no_cancel_);
  ASSERT_TRUE(report.ok()) << report.status();

  std::map<std::string, int> reports;
  int layers_quantized = 0;
  for (const CompressProgress& p : progress) {
    ++reports[p.phase];
    if (p.num_layers == 0) {
      EXPECT_EQ(p.layer, 0) << p.phase;
      continue;
    }
    EXPECT_EQ(p.phase, "quantizing");
    EXPECT_EQ(p.num_layers, kLayers);
    EXPECT_LE(p.layer, kLayers);
    layers_quantized = std::max(layers_quantized, p.layer);
  }
  EXPECT_EQ(layers_quantized, kLayers);
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(kModelDir);
  ASSERT_TRUE(model.ok()) << model.status();
  const int chunk = TokensPerChunk((*model)->summary().parameters, kWindow);
  int chunks = 0;  // of the text, window by window (byte-level: one token per byte)
  for (std::size_t start = 0; start < text_.size(); start += kWindow) {
    chunks += (std::min<int>(kWindow, text_.size() - start) + chunk - 1) / chunk;
  }
  EXPECT_GE(reports["profiling"], chunks);
  EXPECT_GE(reports["evaluating"], 2 * chunks);  // the source, then the compressed model
}

// Cancel (or SIGTERM, which cancels every job) was ignored for the whole evaluating phase.
// Progress comes every chunk of work (above), and none may come once cancel is set.
TEST_F(CompressorSafetyTest, CancelInAnyPhaseStopsAtTheNextChunk) {
  for (const std::string phase : {"profiling", "quantizing", "writing", "evaluating"}) {
    SCOPED_TRACE(phase);
    std::atomic<bool> cancel{false};
    const int cancel_at = phase == "writing" ? 1 : 2;  // mid-phase; writing reports once
    int seen_in_phase = 0;
    int seen_after_cancel = 0;
    absl::StatusOr<CompressReport> report = CompressModelDirectory(
        Spec(phase),
        [&](const CompressProgress& p) {
          if (cancel) {
            ++seen_after_cancel;
          } else if (p.phase == phase && ++seen_in_phase == cancel_at) {
            cancel = true;
          }
        },
        cancel);
    EXPECT_EQ(report.status().code(), absl::StatusCode::kCancelled) << report.status();
    EXPECT_EQ(seen_in_phase, cancel_at);
    EXPECT_EQ(seen_after_cancel, 0);
    EXPECT_THAT(EntriesFor(phase), IsEmpty());
  }
}

// Two servers sharing a model root wrote the same "<output>.partial", and one job "succeeded"
// on a directory the other was writing. Both writers here are past their start when either
// finishes: one gets the output, the other ALREADY_EXISTS, and nothing else is left.
TEST_F(CompressorSafetyTest, TwoWritersOfOneOutputNeverShareIt) {
  absl::Mutex mu;
  int started = 0;
  const auto run = [&](const std::string& owner, absl::StatusOr<CompressReport>* result) {
    CompressJobSpec spec = Spec("shared");
    spec.owner = owner;
    bool waited = false;
    *result = CompressModelDirectory(
        spec,
        [&](const CompressProgress&) {
          if (waited) return;
          waited = true;
          absl::MutexLock lock(&mu);
          ++started;
          mu.AwaitWithTimeout(absl::Condition(
                                  +[](int* n) { return *n >= 2; }, &started),
                              absl::Minutes(5));
        },
        no_cancel_);
  };
  absl::StatusOr<CompressReport> a, b;
  std::thread first(run, "writer-a", &a);
  std::thread second(run, "writer-b", &b);
  first.join();
  second.join();
  EXPECT_EQ(started, 2);
  ASSERT_NE(a.ok(), b.ok()) << a.status() << " / " << b.status();
  const absl::Status lost = a.ok() ? b.status() : a.status();
  EXPECT_EQ(lost.code(), absl::StatusCode::kAlreadyExists) << lost;
  EXPECT_TRUE(IsOwnedBy((out_root_ / "shared").string(), a.ok() ? "writer-a" : "writer-b"));
  EXPECT_THAT(EntriesFor("shared"), ElementsAre("shared"));
  EXPECT_TRUE(Model::Load((out_root_ / "shared").string()).ok());
}

// rename(2) would replace an empty directory and fail on a full one; neither may happen to a
// directory someone put at the output path while the job ran.
TEST_F(CompressorSafetyTest, AnOutputThatAppearsWhileRunningIsKept) {
  const CompressJobSpec spec = Spec("taken");
  absl::StatusOr<CompressReport> report = CompressModelDirectory(
      spec,
      [&](const CompressProgress& p) {
        if (p.phase != "writing" || fs::exists(spec.output_dir)) return;
        fs::create_directory(spec.output_dir);
        std::ofstream(spec.output_dir + "/notes.txt") << "mine";
      },
      no_cancel_);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kAlreadyExists) << report.status();
  EXPECT_THAT(report.status().message(), HasSubstr("appeared while the job ran"));
  EXPECT_EQ(*ReadFileToString(spec.output_dir + "/notes.txt"), "mine");
  EXPECT_THAT(EntriesFor("taken"), ElementsAre("taken"));
}

TEST_F(CompressorSafetyTest, CalibrationTextAndOwnerAreBounded) {
  CompressJobSpec spec = Spec("big");
  spec.calibration_text.assign(kMaxCalibrationTextBytes, 'a');
  EXPECT_TRUE(ValidateCompressSpec(spec).ok());
  spec.calibration_text.push_back('a');
  absl::Status status = ValidateCompressSpec(spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("calibration text has 262145 bytes; at most 262144"));
  spec = Spec("big");
  spec.evaluation_text.assign(kMaxCalibrationTextBytes + 1, 'a');
  EXPECT_EQ(CompressModelDirectory(spec, nullptr, no_cancel_).status().code(),
            absl::StatusCode::kInvalidArgument);
  spec = Spec("big");
  spec.owner = "../elsewhere";
  EXPECT_EQ(CompressModelDirectory(spec, nullptr, no_cancel_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(EntriesFor("big"), IsEmpty());
}

}  // namespace
}  // namespace ghost::compress
