#include "engine/registry/registry.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "engine/common/file.h"
#include "engine/common/log.h"
#include "engine/model/config.h"

namespace ghost {
namespace {

namespace fs = std::filesystem;

// What config.json tells about a model without loading its weights.
absl::StatusOr<ModelSummary> SummaryFromConfig(const std::string& directory) {
  const std::string path = JoinPath(directory, "config.json");
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<ModelConfig> config = ParseModelConfig(*text, path);
  if (!config.ok()) return config.status();
  ModelSummary summary;
  summary.architecture = config->architecture;
  summary.dtype = ShortDtypeName(config->torch_dtype);
  summary.context_length = config->max_position_embeddings;
  summary.vocab_size = config->vocab_size;
  return summary;
}

class Registry final : public ModelRegistry {
 public:
  explicit Registry(const RegistryOptions& options) : options_(options) {}
  ~Registry() override { Shutdown(); }

  void Scan();
  std::vector<ModelInfo> List() const override;
  absl::StatusOr<ModelInfo> Get(const std::string& name) const override;
  absl::StatusOr<std::shared_ptr<LoadedModel>> Load(const std::string& name) override;
  absl::StatusOr<std::shared_ptr<LoadedModel>> GetReady(const std::string& name) const override;
  absl::Status Unload(const std::string& name) override;
  void Shutdown() override;

 private:
  struct Entry {
    ModelInfo info;
    std::shared_ptr<LoadedModel> loaded;  // set while kReady
  };

  absl::Status NotFound(const std::string& name) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  bool Settled(const std::string& name) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const RegistryOptions options_;
  mutable absl::Mutex mutex_;
  std::map<std::string, Entry> models_ ABSL_GUARDED_BY(mutex_);
  bool shut_down_ ABSL_GUARDED_BY(mutex_) = false;
};

void Registry::Scan() {
  absl::MutexLock lock(&mutex_);
  for (const std::string& root : options_.model_roots) {
    std::error_code error;
    std::vector<fs::path> directories;
    for (const fs::directory_entry& entry : fs::directory_iterator(root, error)) {
      if (entry.is_directory(error) && fs::exists(entry.path() / "config.json", error)) {
        directories.push_back(entry.path());
      }
    }
    std::sort(directories.begin(), directories.end());
    for (const fs::path& directory : directories) {
      const std::string name = directory.filename().string();
      if (const auto it = models_.find(name); it != models_.end()) {
        LogWarning(absl::StrCat("model ", name, " in ", root, " is hidden by the one in ",
                                it->second.info.root, " (the first root wins)"));
        continue;
      }
      Entry entry;
      entry.info.name = name;
      entry.info.root = root;
      entry.info.directory = fs::absolute(directory, error).string();
      absl::StatusOr<ModelSummary> summary = SummaryFromConfig(entry.info.directory);
      if (summary.ok()) {
        entry.info.summary = *std::move(summary);
      } else {
        entry.info.state = ModelState::kFailed;
        entry.info.reason = std::string(summary.status().message());
      }
      models_[name] = std::move(entry);
    }
  }
  LogInfo(absl::StrCat("model registry: ", models_.size(), " models under ",
                       absl::StrJoin(options_.model_roots, ", ")));
}

absl::Status Registry::NotFound(const std::string& name) const {
  std::vector<std::string> names;
  for (const auto& [known, entry] : models_) names.push_back(known);
  return absl::NotFoundError(absl::StrCat("model \"", name, "\" not found; known models: ",
                                          names.empty() ? "(none)" : absl::StrJoin(names, ", ")));
}

bool Registry::Settled(const std::string& name) const {
  const ModelState state = models_.at(name).info.state;
  return state != ModelState::kLoading && state != ModelState::kUnloading;
}

std::vector<ModelInfo> Registry::List() const {
  absl::MutexLock lock(&mutex_);
  std::vector<ModelInfo> infos;
  for (const auto& [name, entry] : models_) infos.push_back(entry.info);
  return infos;
}

absl::StatusOr<ModelInfo> Registry::Get(const std::string& name) const {
  absl::MutexLock lock(&mutex_);
  const auto it = models_.find(name);
  if (it == models_.end()) return NotFound(name);
  return it->second.info;
}

absl::StatusOr<std::shared_ptr<LoadedModel>> Registry::GetReady(const std::string& name) const {
  absl::MutexLock lock(&mutex_);
  const auto it = models_.find(name);
  if (it == models_.end()) return NotFound(name);
  if (it->second.info.state != ModelState::kReady) {
    return absl::UnavailableError(absl::StrCat(
        "model \"", name, "\" is not loaded (state: ", ModelStateName(it->second.info.state), ")"));
  }
  return it->second.loaded;
}

absl::StatusOr<std::shared_ptr<LoadedModel>> Registry::Load(const std::string& name) {
  std::string directory;
  {
    absl::MutexLock lock(&mutex_);
    if (models_.find(name) == models_.end()) return NotFound(name);
    // Another caller may be loading or unloading it; wait for that to settle.
    const auto settled = [this, &name]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return Settled(name);  // Await evaluates it with mutex_ held
    };
    mutex_.Await(absl::Condition(&settled));
    if (shut_down_) return absl::UnavailableError("the model registry is shut down");
    Entry& entry = models_[name];
    if (entry.info.state == ModelState::kReady) return entry.loaded;
    entry.info.state = ModelState::kLoading;
    entry.info.reason.clear();
    directory = entry.info.directory;
  }
  // The slow part runs unlocked; the kLoading state keeps other loaders of this model out.
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(directory);
  absl::StatusOr<std::unique_ptr<Executor>> executor =
      model.ok() ? Executor::Create(*model, options_.executor)
                 : absl::StatusOr<std::unique_ptr<Executor>>(model.status());
  absl::MutexLock lock(&mutex_);
  Entry& entry = models_[name];
  if (!executor.ok()) {
    entry.info.state = ModelState::kFailed;
    entry.info.reason = std::string(executor.status().message());
    LogWarning(absl::StrCat("model ", name, " failed to load: ", entry.info.reason));
    return executor.status();
  }
  entry.loaded = std::make_shared<LoadedModel>(LoadedModel{name, *model, *std::move(executor)});
  entry.info.summary = (*model)->summary();
  entry.info.state = ModelState::kReady;
  return entry.loaded;
}

absl::Status Registry::Unload(const std::string& name) {
  std::shared_ptr<LoadedModel> loaded;
  {
    absl::MutexLock lock(&mutex_);
    const auto it = models_.find(name);
    if (it == models_.end()) return NotFound(name);
    if (it->second.info.state != ModelState::kReady) {
      return absl::FailedPreconditionError(
          absl::StrCat("model \"", name,
                       "\" is not loaded (state: ", ModelStateName(it->second.info.state), ")"));
    }
    it->second.info.state = ModelState::kUnloading;
    loaded = std::move(it->second.loaded);
  }
  // Outside the lock: shutting down delivers final chunks to sinks and joins a thread.
  loaded->executor->Shutdown();
  absl::MutexLock lock(&mutex_);
  models_[name].info.state = ModelState::kAvailable;
  return absl::OkStatus();
}

void Registry::Shutdown() {
  std::vector<std::shared_ptr<LoadedModel>> loaded;
  {
    absl::MutexLock lock(&mutex_);
    shut_down_ = true;
    for (auto& [name, entry] : models_) {
      if (entry.loaded != nullptr) loaded.push_back(std::move(entry.loaded));
      entry.loaded.reset();
      if (entry.info.state == ModelState::kReady) entry.info.state = ModelState::kAvailable;
    }
  }
  for (const auto& model : loaded) model->executor->Shutdown();
}

}  // namespace

const char* ModelStateName(ModelState state) {
  switch (state) {
    case ModelState::kAvailable:
      return "available";
    case ModelState::kLoading:
      return "loading";
    case ModelState::kReady:
      return "ready";
    case ModelState::kUnloading:
      return "unloading";
    case ModelState::kFailed:
      return "failed";
  }
  return "?";
}

absl::Status RegistryOptions::Validate() const {
  if (model_roots.empty()) return absl::InvalidArgumentError("no model roots configured");
  for (const std::string& root : model_roots) {
    std::error_code error;
    if (!fs::is_directory(root, error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("model root ", root, " is not an existing directory"));
    }
  }
  return executor.Validate();
}

absl::StatusOr<std::unique_ptr<ModelRegistry>> ModelRegistry::Create(
    const RegistryOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  auto registry = std::make_unique<Registry>(options);
  registry->Scan();
  return std::unique_ptr<ModelRegistry>(std::move(registry));
}

}  // namespace ghost
