// Internals of the model registry shared by registry.cc (queries, loading, unloading) and
// registry_admin.cc (restore, import, delete, persistence). Not part of the engine API.
#ifndef GHOST_ENGINE_REGISTRY_REGISTRY_IMPL_H_
#define GHOST_ENGINE_REGISTRY_REGISTRY_IMPL_H_

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "engine/registry/model_path.h"
#include "engine/registry/registry.h"
#include "engine/registry/registry_store.h"

namespace ghost::internal {

// Engine errors name files by absolute path; replies name them relative to their root.
absl::Status RelativeToRoot(const absl::Status& status, const std::string& root);
absl::Status ShutDownError();
// What config.json tells about a model without loading its weights.
absl::StatusOr<ModelSummary> ReadSummary(const ModelLocation& location);

struct Entry {
  ModelInfo info;
  std::shared_ptr<LoadedModel> serving;  // what GetReady hands out; null unless ready/reloading
  int live_versions = 0;                 // versions not yet released (serving or in flight)
  std::vector<ModelCallback> load_waiters;
  std::optional<DeviceSelection> device;  // named by a LoadOptions; else the registry's
  std::vector<ModelCallback> unload_waiters;
  // A directory DiscoverModels found but could not read: never persisted, checked again at
  // every scan.
  bool rescan = false;
  // A LoadModel's budget for the next load; it becomes info.weight_budget_bytes once a load
  // with it succeeds.
  std::optional<std::int64_t> requested_budget;
};

// The entries and their lock. Shared with the deleters of handed-out versions, so a version
// released after the registry is gone still finds valid memory.
struct Table {
  absl::Mutex mu;
  std::map<std::string, Entry> entries ABSL_GUARDED_BY(mu);
  std::deque<std::string> load_queue ABSL_GUARDED_BY(mu);
  bool shut_down ABSL_GUARDED_BY(mu) = false;
};

// Applies a transition decided by the caller; a refused one is a bug worth a log line.
void Transition(ModelInfo& info, ModelState next);

class Registry final : public ModelRegistry {
 public:
  Registry(const RegistryOptions& options, std::vector<ModelRoot> roots,
           std::unique_ptr<RegistryStore> store)
      : options_(options), roots_(std::move(roots)), store_(std::move(store)) {}
  ~Registry() override { Shutdown(); }

  // Fills the entries from the store and queues the loads; before Start.
  absl::Status Restore();
  void Start() {
    loader_ = std::thread([this] { LoaderLoop(); });
  }

  std::vector<ModelInfo> List() const override;
  void DiscoverModels() override;
  absl::StatusOr<ModelInfo> Get(const std::string& name) const override;
  absl::StatusOr<ModelInfo> Import(const std::string& name, const std::string& path,
                                   ModelOrigin origin) override;
  using ModelRegistry::LoadAsync;
  void LoadAsync(const std::string& name, LoadMode mode, const LoadOptions& options,
                 ModelCallback done) override;
  void UnloadAsync(const std::string& name, ModelCallback done) override;
  absl::Status Delete(const std::string& name) override;
  absl::StatusOr<std::shared_ptr<LoadedModel>> GetReady(const std::string& name) const override;
  void Shutdown() override;

 private:
  absl::Status NotFound(const std::string& name) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(table_->mu);
  bool IsConfiguredRoot(const std::string& root) const;
  // Queues a load of `name` (or joins the one in progress); moves `done` only on success.
  absl::Status QueueLoad(const std::string& name, const std::optional<DeviceSelection>& device,
                         ModelCallback& done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(table_->mu);
  absl::Status StartUnload(const std::string& name, ModelCallback& done,
                           std::shared_ptr<LoadedModel>& released, bool& persist)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(table_->mu);
  // Writes every located entry; a failure is logged, and returned without file names.
  absl::Status Persist() ABSL_EXCLUSIVE_LOCKS_REQUIRED(admin_mu_);
  void LoaderLoop();
  absl::StatusOr<std::unique_ptr<LoadedModel>> LoadVersion(const std::string& name,
                                                           const std::string& root,
                                                           const std::string& path,
                                                           const ModelOptions& options) const;
  void FinishLoad(const std::string& name, absl::StatusOr<std::unique_ptr<LoadedModel>> loaded);
  void RemoveDirectory(const ModelInfo& info) const;

  const RegistryOptions options_;
  const std::vector<ModelRoot> roots_;
  const std::shared_ptr<Table> table_ = std::make_shared<Table>();
  // Serializes changes to persisted fields with their write, so the file always ends with the
  // latest state. Taken before table_->mu; never held while a model loads.
  absl::Mutex admin_mu_ ABSL_ACQUIRED_BEFORE(table_->mu);
  const std::unique_ptr<RegistryStore> store_ ABSL_PT_GUARDED_BY(admin_mu_);
  std::thread loader_;
};

}  // namespace ghost::internal

#endif  // GHOST_ENGINE_REGISTRY_REGISTRY_IMPL_H_
