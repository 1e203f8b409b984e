// A load under a weight budget packs one streamed layer at a time and hands it to its transport
// before packing the next (LlamaModel::Create, LayerTransportBuilder): its peak memory is the
// resident part, the slots and one layer, not the whole model. And the layer file it reuses is
// checked layer by layer against what the load packs.
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/backend/kv_cache.h"
#include "engine/model/llama.h"
#include "engine/model/model.h"
#include "engine/model/weight_budget.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/test_model.h"
#include "tests/run_command.h"

namespace ghost {
namespace {

using ::ghost::testing::LayerFileIn;
using ::ghost::testing::TinyLlamaSpec;
using ::testing::HasSubstr;

// The process's anonymous resident memory in bytes (RssAnon of /proc/self/status): the weights,
// slots and heap a load allocates, without the mapped checkpoint's file-backed pages.
std::int64_t RssAnonBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("RssAnon:", 0) == 0) {
      std::istringstream fields(line.substr(8));
      std::int64_t kb = 0;
      fields >> kb;
      return kb * 1024;
    }
  }
  return -1;
}

// The peak of RssAnonBytes from construction to Stop, sampled every 100 us on a thread of its
// own. A load's allocations live for milliseconds at least (a layer is packed, checksummed and
// written before it is freed), so samples this dense see them.
class AnonPeakSampler {
 public:
  AnonPeakSampler() : peak_(RssAnonBytes()) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        Sample();
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    });
  }
  std::int64_t Stop() {
    stop_.store(true);
    thread_.join();
    Sample();
    return peak_.load();
  }

 private:
  void Sample() {
    const std::int64_t now = RssAnonBytes();
    std::int64_t peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
  }
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> peak_;
  std::thread thread_;
};

// Twelve layers of ~7.5 MiB in bf16 beside a 0.3 MiB embedding: large against the allocator's
// rounding (2 MiB huge pages), so that one layer more or less shows.
TinyLlamaSpec LargeLayerSpec() {
  TinyLlamaSpec spec;
  spec.hidden_size = 512;
  spec.intermediate_size = 2048;
  spec.num_layers = 12;
  spec.num_heads = 8;
  spec.num_kv_heads = 4;
  spec.head_dim = 64;
  spec.dtype = "BF16";
  spec.tie_word_embeddings = true;
  spec.seed = 11;
  return spec;
}

int LayerFileCount(const std::string& directory) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    count += entry.path().extension() == ".layers" ? 1 : 0;
  }
  return count;
}

std::shared_ptr<const Model> Load(const std::string& dir, const ModelOptions& options = {}) {
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir, options);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

// The environment that makes LayerLoadMemoryChild.Load run, set by LayerLoadMemoryTest.
constexpr char kChildModel[] = "GHOST_LOAD_MEMORY_MODEL";
constexpr char kChildBudget[] = "GHOST_LOAD_MEMORY_BUDGET";
constexpr char kChildCache[] = "GHOST_LOAD_MEMORY_CACHE";

// One streamed load in a process of its own, as LayerLoadMemoryTest runs it: in a process that
// loaded and freed a model before, the allocator would hand the load memory already resident,
// and a peak of RSS would show nothing. A fresh process's RSS high-water counts every byte the
// load had at once (and freed bytes the heap kept: an upper bound).
TEST(LayerLoadMemoryChild, Load) {
  const char* dir = std::getenv(kChildModel);
  if (dir == nullptr) GTEST_SKIP() << "run by LayerLoadMemoryTest in a process of its own";
  ModelOptions options;
  options.weight_budget_bytes = std::stoll(std::getenv(kChildBudget));
  options.layer_cache_dir = std::getenv(kChildCache);

  const std::int64_t before = RssAnonBytes();
  AnonPeakSampler sampler;
  std::shared_ptr<const Model> model = Load(dir, options);
  const std::int64_t peak = sampler.Stop() - before;
  ASSERT_NE(model, nullptr);
  ASSERT_NE(model->layer_streamer(), nullptr);

  const auto& llama = dynamic_cast<const LlamaModel&>(*model);
  const std::size_t first = llama.first_streamed_layer();
  EXPECT_GT(model->summary().streamed_layers, 6);
  std::int64_t resident = static_cast<std::int64_t>(llama.weights().resident->bytes());
  std::int64_t largest = 0, model_bytes = resident;
  for (std::size_t l = 0; l < llama.weights().layers.size(); ++l) {
    const auto bytes = static_cast<std::int64_t>(llama.weights().layers[l].unit->bytes());
    if (l < first) resident += bytes;
    largest = std::max(largest, bytes);
    model_bytes += bytes;
  }
  const auto slots = static_cast<std::int64_t>(model->layer_streamer()->slot_bytes_total());
  // The margin: each of the few large allocations (the resident unit, the slots, the layer being
  // packed) may round up to a 2 MiB huge page, plus the heap's small change. The whole model
  // held at once, as when every layer was packed before any was streamed, is 4x the budget.
  constexpr std::int64_t kMargin = std::int64_t{8} << 20;
  const std::int64_t bound = resident + slots + largest + kMargin;
  EXPECT_LT(peak, bound) << "peak anonymous memory of the load " << peak << " bytes; resident "
                         << resident << " + slots " << slots << " + one layer " << largest
                         << " + margin " << kMargin << "; the whole model " << model_bytes;
  std::printf(
      "peak anonymous %lld bytes, bound %lld (resident %lld, slots %lld, one layer %lld, "
      "margin %lld), model %lld\n",
      static_cast<long long>(peak), static_cast<long long>(bound), static_cast<long long>(resident),
      static_cast<long long>(slots), static_cast<long long>(largest),
      static_cast<long long>(kMargin), static_cast<long long>(model_bytes));
}

// A load at a quarter of the model's bytes, once writing its layer file and once reusing it
// (checked by one read buffer of a layer, each packed layer compared with the file's).
TEST(LayerLoadMemoryTest, AQuarterBudgetLoadHoldsOneStreamedLayerAtATime) {
  const std::string dir = ghost::testing::MakeTempDir("load-memory");
  ghost::testing::WriteTinyLlama(dir, LargeLayerSpec());
  std::int64_t model_bytes = 0;
  {
    std::shared_ptr<const Model> resident = Load(dir);
    ASSERT_NE(resident, nullptr);
    model_bytes = resident->summary().resident_weight_bytes;
  }
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  // Under AddressSanitizer (make test-asan) freed memory waits in a quarantine of up to 256 MiB
  // and would count as held: the child frees at once, so its peak is the load's again (plus
  // ASan's shadow, an eighth). Other builds ignore the variable.
  const std::string command =
      absl::StrCat("ASAN_OPTIONS=\"${ASAN_OPTIONS}:quarantine_size_mb=0\" ", kChildModel, "=", dir,
                   " ", kChildBudget, "=", model_bytes / 4, " ", kChildCache, "=", dir, "-cache ",
                   self, " --gtest_filter=LayerLoadMemoryChild.Load 2>&1");
  for (const char* run : {"writing the layer file", "reusing it"}) {
    SCOPED_TRACE(run);
    std::string output;
    EXPECT_EQ(ghost::testing::RunCommand(command, output), 0) << output;
    EXPECT_THAT(output, HasSubstr("peak anonymous")) << output;  // it ran, and did not skip
    const std::size_t at = output.find("peak anonymous");
    if (at != std::string::npos) {
      std::printf("%s: %s", run, output.substr(at, output.find('\n', at) + 1 - at).c_str());
    }
  }
  EXPECT_EQ(LayerFileCount(dir + "-cache"), 1);
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(dir + "-cache");
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

ino_t InodeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0);
  return st.st_ino;
}

// One prefill step of two short prompts: every row's logits.
std::vector<float> PrefillLogits(const Model& model) {
  PagedKvCache cache(KvCacheShapeOf(model.config()), 8, model.default_kv_dtype());
  std::vector<std::int32_t> a = {1, 2, 3, 4, 5}, b = {9, 8, 7};
  KvBlockTable ta, tb;
  EXPECT_TRUE(cache.Resize(ta, 5) && cache.Resize(tb, 3));
  const std::vector<ForwardSequence> step = {{a, 0, &ta, LogitRows::kAll},
                                             {b, 0, &tb, LogitRows::kAll}};
  std::vector<float> logits;
  absl::Status status = model.NewRunner()->Forward(step, cache, logits);
  EXPECT_TRUE(status.ok()) << status;
  return logits;
}

// A model's bytes changed but not its identity (names, sizes, modification times): the file's
// header and checksums match, but the sixth layer the load packs differs from the file's. The
// load rewrites the file from that layer on, copying the five before it, and the result is the
// file a fresh load writes.
TEST(LayerFileLoadTest, ALayerThatDiffersFromTheFilesIsRewrittenKeepingTheLayersBeforeIt) {
  TinyLlamaSpec spec = ghost::testing::WideLayerSpec(8);
  spec.dtype = "BF16";
  spec.tie_word_embeddings = true;
  const std::string dir = ghost::testing::MakeTempDir("load-differs");
  ghost::testing::WriteTinyLlama(dir, spec);
  ModelOptions options;
  options.layer_cache_dir = dir + "-cache";
  {
    std::shared_ptr<const Model> resident = Load(dir);
    ASSERT_NE(resident, nullptr);
    options.weight_budget_bytes = resident->summary().resident_weight_bytes / 3;
  }
  ASSERT_NE(Load(dir, options), nullptr);
  const std::string path = LayerFileIn(options.layer_cache_dir);
  const ino_t written = InodeOf(path);

  const std::string identity = SourceIdentity(dir);
  const std::filesystem::path weights = std::filesystem::path(dir) / "model.safetensors";
  const auto modified = std::filesystem::last_write_time(weights);
  ghost::testing::TensorMap values;
  std::map<std::string, ghost::testing::TestTensor> tensors =
      ghost::testing::TinyLlamaTensors(spec, &values);
  std::string& up = tensors.at("model.layers.5.mlp.up_proj.weight").bytes;
  for (std::size_t i = 0; i < up.size(); i += 64) up[i] ^= 0x01;  // low mantissa bits
  ghost::testing::WriteFile(weights.string(),
                            ghost::testing::SafetensorsBytes(tensors, {{"format", "pt"}}));
  std::filesystem::last_write_time(weights, modified);
  ASSERT_EQ(SourceIdentity(dir), identity);

  std::shared_ptr<const Model> resident = Load(dir);
  std::shared_ptr<const Model> streamed = Load(dir, options);
  ASSERT_NE(resident, nullptr);
  ASSERT_NE(streamed, nullptr);
  EXPECT_EQ(PrefillLogits(*streamed), PrefillLogits(*resident));
  EXPECT_NE(InodeOf(path), written);

  ModelOptions fresh = options;
  fresh.layer_cache_dir = dir + "-fresh";
  ASSERT_NE(Load(dir, fresh), nullptr);
  EXPECT_TRUE(ReadAll(LayerFileIn(fresh.layer_cache_dir)) == ReadAll(path));
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(options.layer_cache_dir);
  std::filesystem::remove_all(fresh.layer_cache_dir);
}

}  // namespace
}  // namespace ghost
