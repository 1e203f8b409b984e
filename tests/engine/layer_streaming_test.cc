// A model under a weight budget of 25% streams most of its layers from its layer file through
// two slots (engine/backend/layer_streamer.h, cpu/layer_file.h) and computes exactly what the
// fully resident model computes: the same bytes reach the same kernels. The streamed bytes are
// counted, so a streamer that silently kept the layers resident fails.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/kv_cache.h"
#include "engine/checkpoint/checkpoint.h"
#include "engine/compressor/model_compressor.h"
#include "engine/model/llama.h"
#include "engine/model/model.h"
#include "engine/model/weight_budget.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/compress_fixture.h"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using ::ghost::testing::LayerFileIn;
using ::ghost::testing::TinyLlamaSpec;
using ::testing::HasSubstr;
using ::testing::Not;

TinyLlamaSpec StreamingSpec(const std::string& dtype) {
  TinyLlamaSpec spec = ghost::testing::WideLayerSpec(12);
  spec.dtype = dtype;
  spec.context = 512;  // the compressor profiles windows of 512 tokens
  spec.tie_word_embeddings = true;
  spec.seed = 5;
  return spec;
}

struct Case {
  std::string name;
  std::string dtype;
  std::string scheme;  // empty: not compressed
  bool gated_dense = false;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The model directory of a case: stored as is, compressed (ternary, gated, dead neurons
// removed) or dense with gates.
std::string WriteModel(const Case& c) {
  TinyLlamaSpec spec = StreamingSpec(c.dtype);
  if (c.gated_dense) spec.gate_thresholds.assign(spec.num_layers, 0.05f);
  const std::string dir = ghost::testing::MakeTempDir("stream-" + c.name);
  ghost::testing::WriteTinyLlama(dir, spec);
  if (c.scheme.empty()) return dir;
  compress::CompressJobSpec job;
  job.source_dir = dir;
  job.output_dir = dir + "-compressed";
  job.scheme = c.scheme;
  job.block_size = 16;
  job.target_sparsity = 0.4f;
  job.remove_dead_neurons = true;
  job.dead_neuron_tolerance = 0.3f;
  return ghost::testing::CompressForTest(job);
}

std::shared_ptr<const Model> Load(const std::string& dir, const ModelOptions& options = {}) {
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir, options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

// The bytes a quarter of the fully resident model's weights take.
std::int64_t QuarterBudget(const Model& resident) {
  return resident.summary().resident_weight_bytes / 4;
}

struct Sequence {
  std::vector<std::int32_t> tokens;
  KvBlockTable blocks;
};

// Runs `batch` sequences through a prefill step (every row's logits) and `decode_steps` greedy
// decode steps on `model`, returning every step's logits; the tokens fed at decode are taken
// from `driver`'s logits (the resident model's), so both models see the same inputs.
class StepRunner {
 public:
  StepRunner(const Model& model, int batch)
      : model_(model), cache_(KvCacheShapeOf(model.config()), 64, model.default_kv_dtype()) {
    const int vocab = model.config().vocab_size;
    for (int s = 0; s < batch; ++s) {
      Sequence& sequence = sequences_.emplace_back();
      for (int t = 0; t < 5 + 3 * s; ++t) {
        sequence.tokens.push_back((t * 37 + s * 101 + 11) % vocab);
      }
    }
    runner_ = model.NewRunner();
  }

  // One step: the prefill of every prompt (all rows), or one decode token per sequence.
  absl::Status Step(bool prefill, const std::vector<std::int32_t>& next, std::vector<float>& out) {
    std::vector<std::vector<std::int32_t>> inputs(sequences_.size());
    std::vector<ForwardSequence> step;
    for (std::size_t s = 0; s < sequences_.size(); ++s) {
      Sequence& sequence = sequences_[s];
      const int start = prefill ? 0 : static_cast<int>(sequence.tokens.size());
      inputs[s] = prefill ? sequence.tokens : std::vector<std::int32_t>{next[s]};
      if (!prefill) sequence.tokens.push_back(next[s]);
      if (!cache_.Resize(sequence.blocks, static_cast<int>(sequence.tokens.size()))) {
        return absl::ResourceExhaustedError("test cache full");
      }
      step.push_back(
          {inputs[s], start, &sequence.blocks, prefill ? LogitRows::kAll : LogitRows::kLast});
    }
    return runner_->Forward(step, cache_, out);
  }

  std::size_t size() const { return sequences_.size(); }

 private:
  const Model& model_;
  PagedKvCache cache_;
  std::vector<Sequence> sequences_;
  std::unique_ptr<ModelRunner> runner_;
};

// Per sequence, the argmax of its last logits row in `logits` (kLast rows, or the last of
// each sequence's kAll rows given their lengths).
std::vector<std::int32_t> NextTokens(const std::vector<float>& logits, int vocab,
                                     const std::vector<std::size_t>& last_rows) {
  std::vector<std::int32_t> next;
  for (std::size_t row : last_rows) {
    const float* begin = logits.data() + row * vocab;
    next.push_back(static_cast<std::int32_t>(std::max_element(begin, begin + vocab) - begin));
  }
  return next;
}

class LayerStreamingTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    dir_ = WriteModel(GetParam());
    cache_dir_ = ghost::testing::MakeTempDir("stream-cache-" + GetParam().name);
    resident_ = Load(dir_);
    ASSERT_NE(resident_, nullptr);
    ModelOptions options;
    options.weight_budget_bytes = QuarterBudget(*resident_);
    options.layer_cache_dir = cache_dir_;
    streamed_ = Load(dir_, options);
    ASSERT_NE(streamed_, nullptr);
    // Half the model: some leading layers resident, the rest streamed.
    options.weight_budget_bytes = resident_->summary().resident_weight_bytes / 2;
    half_ = Load(dir_, options);
    ASSERT_NE(half_, nullptr);
  }

  std::string dir_, cache_dir_;
  std::shared_ptr<const Model> resident_, streamed_, half_;
};

TEST_P(LayerStreamingTest, QuarterBudgetStreamsMostLayersWithinTheBudget) {
  const ModelSummary& s = streamed_->summary();
  EXPECT_EQ(resident_->layer_streamer(), nullptr);
  ASSERT_NE(streamed_->layer_streamer(), nullptr);
  EXPECT_GT(s.streamed_layers, streamed_->config().num_hidden_layers / 2);
  EXPECT_LE(s.resident_weight_bytes, s.weight_budget_bytes);
  EXPECT_GT(s.streamed_weight_bytes, 0);
  if (GetParam().scheme == "ternary") {
    EXPECT_GT(streamed_->summary().removed_neuron_fraction, 0.0);  // dead neurons removed
  }
  // The streamed layers hold no bytes of their own; the resident ones do.
  const auto& llama = dynamic_cast<const LlamaModel&>(*streamed_);
  const std::size_t first = llama.first_streamed_layer();
  std::int64_t streamed_bytes = 0;
  for (std::size_t l = 0; l < llama.weights().layers.size(); ++l) {
    const WeightUnit& unit = *llama.weights().layers[l].unit;
    EXPECT_EQ(unit.data() == nullptr, l >= first) << "layer " << l;
    if (l >= first) streamed_bytes += static_cast<std::int64_t>(unit.bytes());
  }
  EXPECT_EQ(streamed_bytes, s.streamed_weight_bytes);
  // And the budget counts what is held: resident units plus the slots.
  std::int64_t held = static_cast<std::int64_t>(llama.weights().resident->bytes() +
                                                streamed_->layer_streamer()->slot_bytes_total());
  for (std::size_t l = 0; l < first; ++l) {
    held += static_cast<std::int64_t>(llama.weights().layers[l].unit->bytes());
  }
  EXPECT_EQ(held, s.resident_weight_bytes);
}

TEST_P(LayerStreamingTest, HalfTheBudgetKeepsLeadingLayersResident) {
  const auto& llama = dynamic_cast<const LlamaModel&>(*half_);
  ASSERT_NE(half_->layer_streamer(), nullptr);
  EXPECT_GT(llama.first_streamed_layer(), 0u);
  EXPECT_LT(llama.first_streamed_layer(), llama.weights().layers.size());
  EXPECT_LE(half_->summary().resident_weight_bytes, half_->summary().weight_budget_bytes);
}

TEST_P(LayerStreamingTest, LogitsEqualTheResidentModelsExactlyWithBytesCounted) {
  const int vocab = resident_->config().vocab_size;
  for (const Model* model : {streamed_.get(), half_.get()}) {
    const LayerStreamer& streamer = *model->layer_streamer();
    SCOPED_TRACE(::testing::Message() << "streamed layers " << model->summary().streamed_layers);
    for (int batch : {1, 8}) {
      SCOPED_TRACE(::testing::Message() << "batch " << batch);
      StepRunner resident(*resident_, batch);
      StepRunner streamed(*model, batch);
      std::vector<std::size_t> last_rows;
      std::size_t rows = 0;
      for (int s = 0; s < batch; ++s) {
        rows += 5 + 3 * s;
        last_rows.push_back(rows - 1);
      }
      std::vector<std::int32_t> next;
      for (int step = 0; step < 4; ++step) {
        const bool prefill = step == 0;
        SCOPED_TRACE(::testing::Message() << "step " << step);
        const StreamStats before = streamer.stats();
        std::vector<float> expected, got;
        ASSERT_TRUE(resident.Step(prefill, next, expected).ok());
        absl::Status status = streamed.Step(prefill, next, got);
        ASSERT_TRUE(status.ok()) << status;
        EXPECT_EQ(got, expected);  // bit for bit
        // Every streamed layer was copied in once for the step, and computed on once.
        const StreamStats after = streamer.stats();
        EXPECT_EQ(after.acquired_bytes - before.acquired_bytes,
                  static_cast<std::int64_t>(streamer.bytes_per_step()));
        EXPECT_EQ(after.acquired_layers - before.acquired_layers,
                  static_cast<std::int64_t>(streamer.layer_count()));
        EXPECT_GE(after.bytes, after.acquired_bytes);
        next = NextTokens(expected, vocab, last_rows);
        if (prefill) {
          last_rows.clear();
          for (int s = 0; s < batch; ++s) last_rows.push_back(s);
        }
      }
    }
    EXPECT_EQ(model->summary().streamed_weight_bytes,
              static_cast<std::int64_t>(streamer.bytes_per_step()));
  }
}

// The plan a load makes from the checkpoint's headers, before packing, is the plan the packed
// units make: every unit's bytes are the same to the byte, padding included.
TEST_P(LayerStreamingTest, ThePlanFromTheCheckpointEqualsThePlanOfThePackedUnits) {
  const auto& llama = dynamic_cast<const LlamaModel&>(*resident_);
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> checkpoint =
      SafetensorsCheckpoint::Open(dir_);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  CpuBackend backend;
  absl::StatusOr<LlamaUnitBytes> planned =
      PlanLlamaUnits(resident_->config(), **checkpoint, backend);
  ASSERT_TRUE(planned.ok()) << planned.status();
  std::vector<std::size_t> packed;
  for (const LlamaLayerWeights& layer : llama.weights().layers) {
    packed.push_back(layer.unit->bytes());
  }
  EXPECT_EQ(planned->layers, packed);
  EXPECT_EQ(planned->resident, llama.weights().resident->bytes());
  for (std::int64_t budget : {std::int64_t{0}, QuarterBudget(*resident_),
                              resident_->summary().resident_weight_bytes / 2}) {
    absl::StatusOr<WeightPlan> from_headers =
        PlanWeights(planned->resident, planned->layers, budget, 2, kLayerSlotAlignment);
    absl::StatusOr<WeightPlan> from_units =
        PlanWeights(llama.weights().resident->bytes(), packed, budget, 2, kLayerSlotAlignment);
    ASSERT_TRUE(from_headers.ok() && from_units.ok());
    EXPECT_EQ(from_headers->resident_layers, from_units->resident_layers) << budget;
    EXPECT_EQ(from_headers->resident_bytes, from_units->resident_bytes) << budget;
    EXPECT_EQ(from_headers->slot_bytes, from_units->slot_bytes) << budget;
    EXPECT_EQ(from_headers->streamed_bytes, from_units->streamed_bytes) << budget;
  }
  // The streamed load followed that plan.
  const WeightPlan quarter = *PlanWeights(planned->resident, planned->layers,
                                          QuarterBudget(*resident_), 2, kLayerSlotAlignment);
  EXPECT_EQ(dynamic_cast<const LlamaModel&>(*streamed_).first_streamed_layer(),
            quarter.resident_layers);
}

INSTANTIATE_TEST_SUITE_P(Models, LayerStreamingTest,
                         ::testing::Values(Case{"bf16", "BF16", ""},
                                           Case{"ternary", "BF16", "ternary"},
                                           Case{"gated_f16", "F16", "", true}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

// Overwrites `path` in place (same inode: an open descriptor sees the change).
void Overwrite(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::in | std::ios::out | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
}

class LayerFileFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = WriteModel(Case{"faults", "BF16", ""});
    cache_dir_ = ghost::testing::MakeTempDir("stream-cache-faults");
    resident_ = Load(dir_);
    ASSERT_NE(resident_, nullptr);
    options_.weight_budget_bytes = QuarterBudget(*resident_);
    options_.layer_cache_dir = cache_dir_;
  }

  // Loads the streamed model and checks one prefill step against the resident model.
  void ExpectStreamsExactly() {
    std::shared_ptr<const Model> streamed = Load(dir_, options_);
    ASSERT_NE(streamed, nullptr);
    ASSERT_NE(streamed->layer_streamer(), nullptr);
    StepRunner a(*resident_, 2), b(*streamed, 2);
    std::vector<float> expected, got;
    ASSERT_TRUE(a.Step(true, {}, expected).ok());
    ASSERT_TRUE(b.Step(true, {}, got).ok());
    EXPECT_EQ(got, expected);
  }

  std::string dir_, cache_dir_;
  ModelOptions options_;
  std::shared_ptr<const Model> resident_;
};

// The inode of `path`: a rewrite renames a new file over it.
ino_t InodeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0);
  return st.st_ino;
}

TEST_F(LayerFileFaultTest, AMatchingLayerFileIsReusedForAnyBudget) {
  ExpectStreamsExactly();
  const std::string path = LayerFileIn(cache_dir_);
  const ino_t written = InodeOf(path);
  ExpectStreamsExactly();
  options_.weight_budget_bytes = resident_->summary().resident_weight_bytes / 2;
  ExpectStreamsExactly();
  EXPECT_EQ(InodeOf(path), written);
}

TEST_F(LayerFileFaultTest, ACorruptedLayerFileFailsItsChecksumAndIsRewritten) {
  ExpectStreamsExactly();
  const std::string path = LayerFileIn(cache_dir_);
  const std::string good = ReadAll(path);
  std::string bad = good;
  bad[4096 + 64] ^= 0x5a;  // inside the first layer's bytes, past the 4096-byte header
  Overwrite(path, bad);
  ExpectStreamsExactly();
  EXPECT_TRUE(ReadAll(path) == good);
}

TEST_F(LayerFileFaultTest, ATruncatedLayerFileIsRewritten) {
  ExpectStreamsExactly();
  const std::string path = LayerFileIn(cache_dir_);
  const std::string good = ReadAll(path);
  Overwrite(path, good.substr(0, good.size() - 8192));
  ExpectStreamsExactly();
  EXPECT_TRUE(ReadAll(path) == good);
}

TEST_F(LayerFileFaultTest, AFileOfAnotherVersionOfTheModelIsRewritten) {
  ExpectStreamsExactly();
  const std::string path = LayerFileIn(cache_dir_);
  const std::string before = ReadAll(path);
  // The model's files change (a newer modification time): the kept layers are stale.
  const std::filesystem::path config = std::filesystem::path(dir_) / "config.json";
  std::filesystem::last_write_time(
      config, std::filesystem::last_write_time(config) + std::chrono::seconds(10));
  ExpectStreamsExactly();
  EXPECT_FALSE(ReadAll(path) == before);  // the header names the new identity
}

TEST_F(LayerFileFaultTest, AReadErrorMidStreamFailsTheStepWithInternalNamingTheFile) {
  std::shared_ptr<const Model> streamed = Load(dir_, options_);
  ASSERT_NE(streamed, nullptr);
  const std::string path = LayerFileIn(cache_dir_);
  const std::string good = ReadAll(path);
  Overwrite(path, good.substr(0, 4096));  // only the header is left
  {
    StepRunner runner(*streamed, 1);
    std::vector<float> logits;
    absl::Status status = runner.Step(true, {}, logits);
    EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
    // The file by its name: the message reaches clients, who never see the server's paths.
    EXPECT_THAT(status.message(), HasSubstr(std::filesystem::path(path).filename().string()));
    EXPECT_THAT(status.message(), Not(HasSubstr(cache_dir_)));
  }
  // Another model keeps computing meanwhile.
  {
    StepRunner runner(*resident_, 1);
    std::vector<float> logits;
    EXPECT_TRUE(runner.Step(true, {}, logits).ok());
  }
  // Once the file is readable again, the streamer recovers (the copies already made of the
  // next step's first layers may still carry the error, so allow a step or two).
  Overwrite(path, good);
  StepRunner reference(*resident_, 1);
  std::vector<float> expected;
  ASSERT_TRUE(reference.Step(true, {}, expected).ok());
  bool recovered = false;
  for (int attempt = 0; attempt < 3 && !recovered; ++attempt) {
    StepRunner runner(*streamed, 1);
    std::vector<float> logits;
    if (runner.Step(true, {}, logits).ok()) {
      recovered = true;
      EXPECT_EQ(logits, expected);
    }
  }
  EXPECT_TRUE(recovered);
}

TEST(LayerStreamingBudgetTest, TooSmallABudgetIsResourceExhaustedWithTheNumbers) {
  const std::string dir = ghost::testing::MakeTempDir("stream-small");
  ghost::testing::WriteTinyLlama(dir, StreamingSpec("BF16"));
  ModelOptions options;
  options.weight_budget_bytes = 4096;
  options.layer_cache_dir = dir + "-cache";
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir, options);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(model.status().message(), HasSubstr("weight budget of 4096 bytes"));
  EXPECT_THAT(model.status().message(), HasSubstr("2 streaming slots"));
  options.stream_slots = 1;
  EXPECT_EQ(Model::Load(dir, options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LayerStreamingBudgetTest, ABudgetThatHoldsTheModelStreamsNothing) {
  const std::string dir = ghost::testing::MakeTempDir("stream-fits");
  ghost::testing::WriteTinyLlama(dir, StreamingSpec("BF16"));
  std::shared_ptr<const Model> resident = Load(dir);
  ModelOptions options;
  options.weight_budget_bytes = resident->summary().resident_weight_bytes;
  options.layer_cache_dir = dir + "-cache";
  std::shared_ptr<const Model> model = Load(dir, options);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->layer_streamer(), nullptr);
  EXPECT_EQ(model->summary().streamed_layers, 0);
  EXPECT_FALSE(std::filesystem::exists(dir + "-cache"));
}

}  // namespace
}  // namespace ghost
