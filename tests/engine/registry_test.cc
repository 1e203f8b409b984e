#include "engine/registry/registry.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "engine/common/file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/cuda/cuda_device.h"
#include "nlohmann/json.hpp"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

LoadOptions OnDevice(const DeviceSelection& device) {
  LoadOptions options;
  options.device = device;
  return options;
}

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::canonical(ghost::testing::MakeTempDir("root")).string();
    root2_ = fs::canonical(ghost::testing::MakeTempDir("root2")).string();
    outside_ = fs::canonical(ghost::testing::MakeTempDir("outside")).string();
    registry_dir_ = ghost::testing::MakeTempDir("registry") + "/state";
    for (const std::string& dir :
         {root_ + "/tiny", root_ + "/other", root2_ + "/second", outside_ + "/escape"}) {
      fs::create_directory(dir);
      ghost::testing::WriteTinyLlama(dir, spec_);
    }
    fs::create_directory(root_ + "/broken");
    ghost::testing::WriteFile(root_ + "/broken/config.json", R"({"architectures": ["X"]})");
    fs::create_directory(root_ + "/not-a-model");
  }

  absl::StatusOr<std::unique_ptr<ModelRegistry>> Create(std::vector<std::string> roots = {}) {
    RegistryOptions options;
    options.model_roots = roots.empty() ? std::vector<std::string>{root_, root2_} : roots;
    options.registry_dir = registry_dir_;
    return ModelRegistry::Create(options);
  }

  std::unique_ptr<ModelRegistry> Make() {
    absl::StatusOr<std::unique_ptr<ModelRegistry>> registry = Create();
    EXPECT_TRUE(registry.ok()) << registry.status();
    return registry.ok() ? *std::move(registry) : nullptr;
  }

  // Runs one request on a held version to its final chunk.
  static FinishReason Generate(const LoadedModel& model) {
    GenerationRequest request;
    request.prompt_tokens = {1, 2};
    request.stopping.max_new_tokens = 4;
    request.stopping.ignore_eos = true;
    absl::Notification done;
    FinishReason reason = FinishReason::kNone;
    auto id = model.executor->Enqueue(request, [&](GenerationChunk chunk) {
      if (!chunk.is_final()) return;
      reason = chunk.finish_reason;
      done.Notify();
    });
    if (!id.ok()) return FinishReason::kError;
    done.WaitForNotification();
    return reason;
  }

  // Replaces files by rename, as a safe deploy does: a loaded model maps its weights, and
  // truncating a mapped file in place would crash the serving version (SIGBUS).
  static void ReplaceFile(const std::string& path, const std::string& contents) {
    ghost::testing::WriteFile(path + ".new", contents);
    fs::rename(path + ".new", path);
  }
  static void ReplaceModel(const std::string& directory,
                           const ghost::testing::TinyLlamaSpec& spec) {
    const std::string staging = ghost::testing::MakeTempDir("staging");
    ghost::testing::WriteTinyLlama(staging, spec);
    for (const fs::directory_entry& file : fs::directory_iterator(staging)) {
      fs::rename(file.path(), fs::path(directory) / file.path().filename());
    }
  }

  ghost::testing::TinyLlamaSpec spec_;
  std::string root_, root2_, outside_, registry_dir_;
};

TEST_F(RegistryTest, ImportConfinesPathsToTheModelRoots) {
  std::unique_ptr<ModelRegistry> registry = Make();
  ASSERT_NE(registry, nullptr);
  fs::create_directory_symlink(outside_ + "/escape", root_ + "/link-out");
  fs::create_directory_symlink(root_ + "/tiny", root_ + "/link-in");
  fs::create_directory(root_ + "/sneaky");
  fs::create_symlink(outside_ + "/escape/config.json", root_ + "/sneaky/config.json");

  const struct {
    std::string path;
    absl::StatusCode code;
  } refused[] = {
      {"../" + fs::path(outside_).filename().string() + "/escape",
       absl::StatusCode::kInvalidArgument},
      {"tiny/../../escape", absl::StatusCode::kInvalidArgument},
      {root_ + "/../" + fs::path(outside_).filename().string() + "/escape",
       absl::StatusCode::kInvalidArgument},
      {outside_ + "/escape", absl::StatusCode::kPermissionDenied},
      {"/etc", absl::StatusCode::kPermissionDenied},
      {"link-out", absl::StatusCode::kPermissionDenied},
      {root_ + "/link-out", absl::StatusCode::kPermissionDenied},
      {"sneaky", absl::StatusCode::kPermissionDenied},
      {"", absl::StatusCode::kInvalidArgument},
      {".", absl::StatusCode::kInvalidArgument},
      {root_, absl::StatusCode::kInvalidArgument},
      {"missing", absl::StatusCode::kNotFound},
      {"not-a-model", absl::StatusCode::kNotFound},
      {"tiny/config.json", absl::StatusCode::kInvalidArgument},
      {"broken", absl::StatusCode::kUnimplemented},  // config.json names an unknown architecture
  };
  for (const auto& [path, code] : refused) {
    const absl::Status status = registry->Import("m", path, ModelOrigin::kImported).status();
    EXPECT_EQ(status.code(), code) << path << ": " << status;
    // Nothing about the world outside the roots comes back, not even its name.
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr(outside_))) << path;
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr("/etc"))) << path;
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr(root_))) << path;
  }
  EXPECT_TRUE(registry->List().empty());

  // Inside the roots: relative, absolute, through a symlink that stays inside, second root.
  absl::StatusOr<ModelInfo> relative = registry->Import("rel", "./tiny/", ModelOrigin::kImported);
  ASSERT_TRUE(relative.ok()) << relative.status();
  EXPECT_EQ(relative->path, "tiny");
  EXPECT_EQ(relative->root, root_);
  EXPECT_EQ(relative->state, ModelState::kAvailable);
  EXPECT_EQ(relative->summary.architecture, "LlamaForCausalLM");
  EXPECT_EQ(relative->summary.context_length, 64);
  EXPECT_EQ(registry->Import("abs", root_ + "/tiny", ModelOrigin::kImported)->path, "tiny");
  EXPECT_EQ(registry->Import("alias", "link-in", ModelOrigin::kImported)->path, "tiny");
  absl::StatusOr<ModelInfo> second = registry->Import("two", "second", ModelOrigin::kImported);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->root, root2_);

  for (const std::string& name :
       std::vector<std::string>{"", "a/b", "../x", ".hidden", std::string(129, 'a')}) {
    EXPECT_EQ(registry->Import(name, "tiny", ModelOrigin::kImported).status().code(),
              absl::StatusCode::kInvalidArgument)
        << name;
  }
  const absl::Status taken = registry->Import("rel", "other", ModelOrigin::kImported).status();
  EXPECT_EQ(taken.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(taken.message()), HasSubstr("model \"rel\" already exists"));
}

// Every file a load reads is confined to the model's root (TESTPLAN G23), not only config.json:
// a symlink to a file outside is refused before a byte of it is read, and the error names the
// file relative to the root, never the outside path nor what the file holds.
TEST_F(RegistryTest, EveryFileALoadReadsIsConfinedToTheRoot) {
  std::unique_ptr<ModelRegistry> registry = Make();
  ASSERT_NE(registry, nullptr);
  const std::string secret = outside_ + "/secret";
  ghost::testing::WriteFile(secret, "root:x:0:0:root:/root:/bin/bash\n");
  constexpr char kShard[] = "model-00001-of-00001.safetensors";
  // A copy of the tiny model with its weights in one shard behind an index.
  const auto write_sharded = [&](const std::string& dir) {
    fs::rename(dir + "/model.safetensors", dir + "/" + kShard);
    nlohmann::json weight_map;
    ghost::testing::TensorMap unused;
    for (const auto& [name, tensor] : ghost::testing::TinyLlamaTensors(spec_, &unused)) {
      weight_map[name] = kShard;
    }
    ghost::testing::WriteFile(dir + "/model.safetensors.index.json",
                              nlohmann::json{{"weight_map", weight_map}}.dump());
  };
  // A shard is refused earlier, by the index's own check (shards stay in the model directory).
  const std::string shard_error = std::string("shard \"") + kShard + "\" is a symlink that leaves";
  const struct {
    std::string file;
    bool sharded;
    absl::StatusCode code;
    std::string error;  // empty: "<model>/<file> leaves its model root"
  } cases[] = {
      {"config.json", false, absl::StatusCode::kPermissionDenied, ""},
      {"generation_config.json", false, absl::StatusCode::kPermissionDenied, ""},
      {"tokenizer.json", false, absl::StatusCode::kPermissionDenied, ""},
      {"model.safetensors", false, absl::StatusCode::kPermissionDenied, ""},
      {"model.safetensors.index.json", true, absl::StatusCode::kPermissionDenied, ""},
      {kShard, true, absl::StatusCode::kInvalidArgument, shard_error},
  };
  int i = 0;
  for (const auto& [file, sharded, code, error] : cases) {
    const std::string name = "leak" + std::to_string(i++);
    const std::string dir = root_ + "/" + name;
    fs::create_directory(dir);
    ghost::testing::WriteTinyLlama(dir, spec_);
    ghost::testing::WriteFile(dir + "/generation_config.json", R"({"temperature": 0.7})");
    if (sharded) write_sharded(dir);
    ASSERT_TRUE(registry->Import(name, name, ModelOrigin::kImported).ok()) << file;
    // A symlink staying inside the root is fine.
    if (!sharded) {
      fs::rename(dir + "/" + file, root_ + "/" + name + "-" + file);
      fs::create_symlink("../" + name + "-" + file, dir + "/" + file);
      ASSERT_TRUE(registry->Load(name).ok()) << file;
      ASSERT_TRUE(registry->Unload(name).ok()) << file;
      fs::remove(dir + "/" + file);
    } else {
      fs::remove(dir + "/" + file);
    }
    fs::create_symlink(secret, dir + "/" + file);
    const absl::Status status = registry->Load(name).status();
    EXPECT_EQ(status.code(), code) << file << ": " << status;
    const std::string message(status.message());
    EXPECT_THAT(message,
                HasSubstr(error.empty() ? name + "/" + file + " leaves its model root" : error))
        << file;
    EXPECT_THAT(message, Not(HasSubstr("root:x"))) << file;
    EXPECT_THAT(message, Not(HasSubstr(outside_))) << file;
    EXPECT_THAT(message, Not(HasSubstr(root_))) << file;
    EXPECT_EQ(registry->Get(name)->state, ModelState::kFailed) << file;
  }
}

TEST_F(RegistryTest, LoadUnloadDeleteTransitions) {
  std::unique_ptr<ModelRegistry> registry = Make();
  ASSERT_NE(registry, nullptr);
  EXPECT_EQ(registry->Load("tiny").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(registry->Import("tiny", "tiny", ModelOrigin::kImported).ok());
  const absl::Status not_loaded = registry->GetReady("tiny").status();
  EXPECT_EQ(not_loaded.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(not_loaded.message()),
              HasSubstr("model \"tiny\" is not loaded (state: available); call LoadModel"));
  EXPECT_EQ(registry->Unload("tiny").status().code(), absl::StatusCode::kFailedPrecondition);

  absl::StatusOr<ModelInfo> loaded = registry->Load("tiny");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->state, ModelState::kReady);
  EXPECT_GT(loaded->summary.parameters, 0);
  EXPECT_EQ(loaded->summary.tokenizer, "byte-level");
  absl::StatusOr<std::shared_ptr<LoadedModel>> ready = registry->GetReady("tiny");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(Generate(**ready), FinishReason::kLength);
  // kIfNotLoaded reports a ready model as it is; the default kReload loads it again.
  ASSERT_TRUE(registry->Load("tiny", LoadMode::kIfNotLoaded).ok());
  EXPECT_EQ(registry->GetReady("tiny")->get(), ready->get());
  ASSERT_TRUE(registry->Load("tiny").ok());
  EXPECT_NE(registry->GetReady("tiny")->get(), ready->get());
  ready->reset();

  const absl::Status delete_loaded = registry->Delete("tiny");
  EXPECT_EQ(delete_loaded.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(delete_loaded.message()), HasSubstr("unload it first"));

  absl::StatusOr<ModelInfo> unloaded = registry->Unload("tiny");
  ASSERT_TRUE(unloaded.ok()) << unloaded.status();
  EXPECT_EQ(unloaded->state, ModelState::kAvailable);
  EXPECT_EQ(registry->GetReady("tiny").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(registry->Unload("tiny").status().code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(registry->Delete("tiny").ok());
  EXPECT_EQ(registry->Get("tiny").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(fs::exists(root_ + "/tiny/config.json"));  // imported: only the entry goes
  EXPECT_EQ(registry->Delete("tiny").code(), absl::StatusCode::kNotFound);

  // A model that cannot load is FAILED with the reason, named relative to its root.
  ASSERT_TRUE(registry->Import("other", "other", ModelOrigin::kImported).ok());
  fs::remove(root_ + "/other/model.safetensors");
  const absl::Status missing = registry->Load("other").status();
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.message()), Not(HasSubstr(root_)));
  EXPECT_EQ(registry->Get("other")->state, ModelState::kFailed);
  EXPECT_THAT(registry->Get("other")->reason, HasSubstr("model.safetensors"));
  EXPECT_TRUE(registry->Delete("other").ok());  // failed models can be deleted
}

// A model's device: the registry's by default, the one a LoadOptions named from then on. A
// device the machine lacks fails that model alone; the others keep serving.
TEST_F(RegistryTest, ModelsLoadOnTheirOwnDevice) {
  std::unique_ptr<ModelRegistry> registry = Make();
  ASSERT_NE(registry, nullptr);
  ASSERT_TRUE(registry->Import("tiny", "tiny", ModelOrigin::kImported).ok());
  ASSERT_TRUE(registry->Import("other", "other", ModelOrigin::kImported).ok());
  absl::StatusOr<ModelInfo> cpu = registry->Load("tiny");
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_EQ(cpu->device, "cpu");

  const auto load_on = [&](const std::string& name, const DeviceSelection& device) {
    absl::Notification done;
    absl::StatusOr<ModelInfo> outcome;
    registry->LoadAsync(name, LoadMode::kReload, OnDevice(device),
                        [&](absl::StatusOr<ModelInfo> result) {
                          outcome = std::move(result);
                          done.Notify();
                        });
    done.WaitForNotification();
    return outcome;
  };
  const absl::StatusOr<ModelInfo> on_cuda = load_on("other", {Device::kCuda, 0});
  if (kernels::CudaDeviceCount() == 0) {
    EXPECT_EQ(on_cuda.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(registry->Get("other")->state, ModelState::kFailed);
    EXPECT_EQ(registry->Get("other")->device, "cuda:0");
    // A later plain load stays on the device it was asked onto.
    EXPECT_EQ(registry->Load("other").status().code(), absl::StatusCode::kFailedPrecondition);
  } else {
    ASSERT_TRUE(on_cuda.ok()) << on_cuda.status();
    EXPECT_EQ(on_cuda->device, "cuda:0");
    EXPECT_EQ(Generate(**registry->GetReady("other")), FinishReason::kLength);
  }
  // The CPU model was never touched.
  absl::StatusOr<std::shared_ptr<LoadedModel>> ready = registry->GetReady("tiny");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(Generate(**ready), FinishReason::kLength);
  const absl::StatusOr<ModelInfo> back = load_on("other", {Device::kCpu, 0});
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->device, "cpu");
  EXPECT_EQ(back->state, ModelState::kReady);
}

TEST_F(RegistryTest, DeleteRemovesOnlyDirectoriesTheServerCreated) {
  std::unique_ptr<ModelRegistry> registry = Make();
  ASSERT_NE(registry, nullptr);
  ASSERT_TRUE(registry->Import("made", "other", ModelOrigin::kCreatedByServer).ok());
  EXPECT_TRUE(registry->Get("made")->created_by_server);
  ASSERT_TRUE(registry->Import("alias", "other", ModelOrigin::kImported).ok());
  ASSERT_TRUE(registry->Delete("made").ok());
  EXPECT_TRUE(fs::exists(root_ + "/other"));  // "alias" still uses it
  ASSERT_TRUE(registry->Delete("alias").ok());
  EXPECT_TRUE(fs::exists(root_ + "/other"));  // imported: never removed

  ASSERT_TRUE(registry->Import("made2", "second", ModelOrigin::kCreatedByServer).ok());
  ASSERT_TRUE(registry->Delete("made2").ok());
  EXPECT_FALSE(fs::exists(root2_ + "/second"));
  EXPECT_TRUE(fs::exists(root_ + "/tiny"));
}

TEST_F(RegistryTest, UnloadWaitsForInFlightHoldersAndRefusesNewOnes) {
  std::unique_ptr<ModelRegistry> registry = Make();
  ASSERT_NE(registry, nullptr);
  ASSERT_TRUE(registry->Import("tiny", "tiny", ModelOrigin::kImported).ok());
  ASSERT_TRUE(registry->Load("tiny").ok());
  absl::StatusOr<std::shared_ptr<LoadedModel>> held = registry->GetReady("tiny");
  ASSERT_TRUE(held.ok());

  absl::Notification unloaded;
  registry->UnloadAsync("tiny", [&](absl::StatusOr<ModelInfo> info) {
    EXPECT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->state, ModelState::kAvailable);
    unloaded.Notify();
  });
  EXPECT_FALSE(unloaded.HasBeenNotified());
  EXPECT_EQ(registry->Get("tiny")->state, ModelState::kUnloading);
  EXPECT_EQ(registry->GetReady("tiny").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(registry->Load("tiny").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(registry->Delete("tiny").code(), absl::StatusCode::kFailedPrecondition);
  // The holder (an in-flight stream) still runs to completion.
  EXPECT_EQ(Generate(**held), FinishReason::kLength);

  const std::weak_ptr<const Model> weights = (*held)->model;
  held->reset();  // the last holder lets go: the executor stops and the unload completes
  EXPECT_TRUE(unloaded.HasBeenNotified());
  EXPECT_TRUE(weights.expired());  // the memory is returned
  EXPECT_EQ(registry->Get("tiny")->state, ModelState::kAvailable);
  EXPECT_TRUE(registry->Load("tiny").ok());
}

TEST_F(RegistryTest, FailedReloadKeepsTheOldVersionServing) {
  std::unique_ptr<ModelRegistry> registry = Make();
  ASSERT_NE(registry, nullptr);
  ASSERT_TRUE(registry->Import("tiny", "tiny", ModelOrigin::kImported).ok());
  ASSERT_TRUE(registry->Load("tiny").ok());
  std::shared_ptr<LoadedModel> first = *registry->GetReady("tiny");

  ReplaceFile(root_ + "/tiny/model.safetensors", "not a safetensors file");
  const absl::Status reload = registry->Load("tiny").status();
  EXPECT_FALSE(reload.ok());
  const ModelInfo info = *registry->Get("tiny");
  EXPECT_EQ(info.state, ModelState::kReady);
  EXPECT_THAT(info.reason, HasSubstr("reload failed, still serving the previous version"));
  EXPECT_EQ(registry->GetReady("tiny")->get(), first.get());
  EXPECT_EQ(Generate(*first), FinishReason::kLength);

  // A good reload swaps; the old version keeps serving whoever still holds it.
  ghost::testing::TinyLlamaSpec changed = spec_;
  changed.seed = 7;
  ReplaceModel(root_ + "/tiny", changed);
  ASSERT_TRUE(registry->Load("tiny").ok());
  std::shared_ptr<LoadedModel> second = *registry->GetReady("tiny");
  EXPECT_NE(second.get(), first.get());
  EXPECT_TRUE(registry->Get("tiny")->reason.empty());
  EXPECT_EQ(Generate(*first), FinishReason::kLength);
  EXPECT_EQ(Generate(*second), FinishReason::kLength);

  // Unloading waits for both versions.
  second.reset();
  absl::Notification unloaded;
  registry->UnloadAsync("tiny", [&](absl::StatusOr<ModelInfo>) { unloaded.Notify(); });
  EXPECT_FALSE(unloaded.HasBeenNotified());
  first.reset();
  EXPECT_TRUE(unloaded.HasBeenNotified());
}

TEST_F(RegistryTest, EntriesPersistAcrossRestartsAndReadyModelsReload) {
  {
    std::unique_ptr<ModelRegistry> registry = Make();
    ASSERT_NE(registry, nullptr);
    ASSERT_TRUE(registry->Import("tiny", "tiny", ModelOrigin::kImported).ok());
    ASSERT_TRUE(registry->Import("other", root_ + "/other", ModelOrigin::kImported).ok());
    ASSERT_TRUE(registry->Import("two", "second", ModelOrigin::kCreatedByServer).ok());
    ASSERT_TRUE(registry->Load("tiny").ok());
    ASSERT_TRUE(registry->Load("two").ok());
    ASSERT_TRUE(registry->Unload("two").ok());
  }
  EXPECT_FALSE(fs::exists(registry_dir_ + "/registry.json.tmp"));
  const std::string json = *ReadFileToString(registry_dir_ + "/registry.json");
  EXPECT_THAT(json, HasSubstr("\"path\": \"other\""));
  EXPECT_THAT(json, Not(HasSubstr(root_ + "/other")));

  fs::remove_all(root_ + "/other");
  {
    std::unique_ptr<ModelRegistry> registry = Make();
    ASSERT_NE(registry, nullptr);
    const std::vector<ModelInfo> models = registry->List();
    ASSERT_EQ(models.size(), 3u);
    EXPECT_EQ(models[0].name, "other");
    EXPECT_EQ(models[0].state, ModelState::kFailed);
    EXPECT_THAT(models[0].reason, HasSubstr("no model directory \"other\""));
    EXPECT_EQ(models[1].name, "tiny");
    EXPECT_TRUE(models[1].load_at_start);
    EXPECT_EQ(models[2].name, "two");
    EXPECT_EQ(models[2].root, root2_);
    EXPECT_TRUE(models[2].created_by_server);
    EXPECT_EQ(models[2].state, ModelState::kAvailable);  // unloaded before the stop
    // tiny was ready: it loads again by itself (joining that load here).
    const ModelState state = models[1].state;
    EXPECT_TRUE(state == ModelState::kLoading || state == ModelState::kReady)
        << ModelStateName(state);
    absl::StatusOr<ModelInfo> tiny = registry->Load("tiny");
    ASSERT_TRUE(tiny.ok()) << tiny.status();
    EXPECT_TRUE(registry->GetReady("tiny").ok());
    // Shutdown stops serving but keeps what should load at the next start.
    registry->Shutdown();
    EXPECT_EQ(registry->GetReady("tiny").status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(registry->Load("tiny").status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(registry->Import("x", "tiny", ModelOrigin::kImported).status().code(),
              absl::StatusCode::kUnavailable);
  }
  std::unique_ptr<ModelRegistry> registry = Make();
  ASSERT_NE(registry, nullptr);
  EXPECT_TRUE(registry->Get("tiny")->load_at_start);
}

TEST_F(RegistryTest, EntryUnderARootNoLongerConfiguredIsKeptAsFailed) {
  {
    std::unique_ptr<ModelRegistry> registry = Make();
    ASSERT_NE(registry, nullptr);
    ASSERT_TRUE(registry->Import("two", "second", ModelOrigin::kImported).ok());
  }
  {
    absl::StatusOr<std::unique_ptr<ModelRegistry>> registry = Create({root_});
    ASSERT_TRUE(registry.ok()) << registry.status();
    const ModelInfo two = *(*registry)->Get("two");
    EXPECT_EQ(two.state, ModelState::kFailed);
    EXPECT_THAT(two.reason, HasSubstr("the model root of \"two\" is not configured"));
    EXPECT_EQ((*registry)->Load("two").status().code(), absl::StatusCode::kFailedPrecondition);
    ASSERT_TRUE((*registry)->Import("tiny", "tiny", ModelOrigin::kImported).ok());  // rewrites
  }
  std::unique_ptr<ModelRegistry> registry = Make();  // the root is back
  ASSERT_NE(registry, nullptr);
  EXPECT_EQ(registry->Get("two")->state, ModelState::kAvailable);
  EXPECT_TRUE(registry->Load("two").ok());
}

TEST_F(RegistryTest, ChangesAreUndoneWhenTheRegistryCannotBeSaved) {
  std::unique_ptr<ModelRegistry> registry = Make();
  ASSERT_NE(registry, nullptr);
  ASSERT_TRUE(registry->Import("tiny", "tiny", ModelOrigin::kImported).ok());
  // A directory where the temp file goes makes every write fail (even for root).
  fs::create_directory(registry_dir_ + "/registry.json.tmp");
  const absl::Status failed = registry->Import("other", "other", ModelOrigin::kImported).status();
  EXPECT_EQ(failed.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(failed.message()), Not(HasSubstr(registry_dir_)));
  EXPECT_EQ(registry->Get("other").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry->Delete("tiny").code(), absl::StatusCode::kInternal);
  EXPECT_EQ(registry->Get("tiny")->state, ModelState::kAvailable);

  fs::remove(registry_dir_ + "/registry.json.tmp");
  EXPECT_TRUE(registry->Import("other", "other", ModelOrigin::kImported).ok());
  EXPECT_TRUE(registry->Delete("tiny").ok());
}

TEST_F(RegistryTest, CorruptRegistryFileIsRefused) {
  fs::create_directories(registry_dir_);
  ghost::testing::WriteFile(registry_dir_ + "/registry.json", R"({"format": "other"})");
  const absl::Status status = Create().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()), HasSubstr("not a valid registry file"));
}

TEST_F(RegistryTest, SecondRegistryOnTheSameDirectoryIsRefused) {
  std::unique_ptr<ModelRegistry> first = Make();
  ASSERT_NE(first, nullptr);
  const absl::Status second = Create().status();
  EXPECT_EQ(second.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.message()), HasSubstr("another ghostserve uses this registry"));
  first.reset();  // releasing the lock lets the next one in
  EXPECT_TRUE(Create().ok());
}

TEST_F(RegistryTest, ConcurrentLoadsUnloadsAndLookupsStayConsistent) {
  std::unique_ptr<ModelRegistry> registry = Make();
  ASSERT_NE(registry, nullptr);
  ASSERT_TRUE(registry->Import("tiny", "tiny", ModelOrigin::kImported).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> generated{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&] {
      while (!stop) {
        absl::StatusOr<std::shared_ptr<LoadedModel>> model = registry->GetReady("tiny");
        if (!model.ok()) {
          EXPECT_EQ(model.status().code(), absl::StatusCode::kUnavailable);
          std::this_thread::yield();
          continue;
        }
        // A held version keeps running even while it is being unloaded.
        EXPECT_EQ(Generate(**model), FinishReason::kLength);
        ++generated;
      }
    });
  }
  for (int round = 0; round < 10; ++round) {
    const absl::Status load = registry->Load("tiny").status();
    EXPECT_TRUE(load.ok()) << load;
    const absl::Status unload = registry->Unload("tiny").status();
    EXPECT_TRUE(unload.ok()) << unload;
  }
  ASSERT_TRUE(registry->Load("tiny").ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (generated < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_GE(generated, 3);
  stop = true;
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(registry->Get("tiny")->state, ModelState::kReady);
  EXPECT_TRUE(registry->Unload("tiny").ok());
  EXPECT_EQ(registry->Get("tiny")->state, ModelState::kAvailable);
}

}  // namespace
}  // namespace ghost
