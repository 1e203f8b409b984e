#include "engine/registry/registry.h"

#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "engine/common/file.h"
#include "engine/common/log.h"
#include "engine/common/read_roots.h"
#include "engine/common/status_macros.h"
#include "engine/registry/registry_impl.h"

namespace ghost {
namespace internal {
namespace {

// Deleter of a handed-out version; runs on the thread that drops the last reference.
void ReleaseVersion(const std::shared_ptr<Table>& table, LoadedModel* version) {
  const std::string name = version->name;
  version->executor->Shutdown();
  delete version;
  std::vector<ModelCallback> waiters;
  ModelInfo info;
  {
    absl::MutexLock lock(&table->mu);
    const auto it = table->entries.find(name);
    if (it == table->entries.end()) return;
    Entry& entry = it->second;
    if (--entry.live_versions > 0 || entry.info.state != ModelState::kUnloading) return;
    Transition(entry.info, ModelState::kAvailable);
    waiters.swap(entry.unload_waiters);
    info = entry.info;
  }
  LogInfo(absl::StrCat("model ", name, " unloaded"));
  for (ModelCallback& done : waiters) std::move(done)(info);
}

}  // namespace

std::vector<ModelInfo> Registry::List() const {
  absl::MutexLock lock(&table_->mu);
  std::vector<ModelInfo> infos;
  for (const auto& [name, entry] : table_->entries) infos.push_back(entry.info);
  return infos;
}

absl::StatusOr<ModelInfo> Registry::Get(const std::string& name) const {
  absl::MutexLock lock(&table_->mu);
  const auto it = table_->entries.find(name);
  if (it == table_->entries.end()) return NotFound(name);
  return it->second.info;
}

absl::StatusOr<std::shared_ptr<LoadedModel>> Registry::GetReady(const std::string& name) const {
  absl::MutexLock lock(&table_->mu);
  if (table_->shut_down) return ShutDownError();
  const auto it = table_->entries.find(name);
  if (it == table_->entries.end()) return NotFound(name);
  if (it->second.serving == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "model \"", name, "\" is not loaded (state: ", ModelStateName(it->second.info.state),
        "); call LoadModel"));
  }
  return it->second.serving;
}

absl::Status Registry::QueueLoad(const std::string& name,
                                 const std::optional<DeviceSelection>& device,
                                 ModelCallback& done) {
  if (table_->shut_down) return ShutDownError();
  const auto it = table_->entries.find(name);
  if (it == table_->entries.end()) return NotFound(name);
  Entry& entry = it->second;
  switch (entry.info.state) {
    case ModelState::kLoading:
      if (device.has_value() && device != entry.device.value_or(options_.device)) {
        return absl::FailedPreconditionError(
            absl::StrCat("model \"", name, "\" is loading on ",
                         entry.device.value_or(options_.device).ToString(), "; load it on ",
                         device->ToString(), " once that load is done"));
      }
      break;  // joins the load in progress
    case ModelState::kAvailable:
    case ModelState::kFailed:
    case ModelState::kReady:
      Transition(entry.info, ModelState::kLoading);
      if (device.has_value()) entry.device = device;
      table_->load_queue.push_back(name);
      break;
    case ModelState::kImporting:
      return absl::FailedPreconditionError(
          absl::StrCat("model \"", name, "\" is still being imported"));
    case ModelState::kUnloading:
      return absl::FailedPreconditionError(
          absl::StrCat("model \"", name, "\" is unloading; load it again once it is available"));
  }
  if (done) entry.load_waiters.push_back(std::move(done));
  return absl::OkStatus();
}

void Registry::LoadAsync(const std::string& name, LoadMode mode, const LoadOptions& options,
                         ModelCallback done) {
  absl::StatusOr<ModelInfo> now = absl::UnknownError("pending");
  bool pending = false;
  {
    absl::MutexLock lock(&table_->mu);
    const auto it = table_->entries.find(name);
    if (it != table_->entries.end() && options.weight_budget_bytes.has_value()) {
      it->second.requested_budget = options.weight_budget_bytes;
    }
    if (mode == LoadMode::kIfNotLoaded && it != table_->entries.end() &&
        it->second.info.state == ModelState::kReady && !table_->shut_down) {
      now = it->second.info;
    } else if (absl::Status queued = QueueLoad(name, options.device, done); !queued.ok()) {
      now = queued;
    } else {
      pending = true;  // `done` now waits in the entry
    }
  }
  if (!pending) std::move(done)(std::move(now));
}

void Registry::LoaderLoop() {
  for (;;) {
    std::string name, root, path;
    DeviceSelection device;
    ModelOptions options = options_.model;
    {
      absl::MutexLock lock(&table_->mu);
      Table* table = table_.get();
      const auto has_work = [table]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(table->mu) {
        return table->shut_down || !table->load_queue.empty();
      };
      table_->mu.Await(absl::Condition(&has_work));
      if (table_->shut_down) return;  // Shutdown failed what was queued
      name = table_->load_queue.front();
      table_->load_queue.pop_front();
      Entry& entry = table_->entries.at(name);
      const ModelInfo& info = entry.info;
      root = info.root;
      path = info.path;
      device = entry.device.value_or(options_.device);
      entry.info.device = device.ToString();
      if (entry.requested_budget) {
        options.weight_budget_bytes = *entry.requested_budget;
      } else if (info.weight_budget_bytes) {
        options.weight_budget_bytes = *info.weight_budget_bytes;
      }
      entry.requested_budget.reset();
    }
    options.device = device.device;
    options.device_index = device.index;
    if (options.layer_cache_dir.empty()) {
      options.layer_cache_dir = JoinPath(options_.registry_dir, "layer-cache");
    }
    FinishLoad(name, LoadVersion(name, root, path, options));
  }
}

absl::StatusOr<std::unique_ptr<LoadedModel>> Registry::LoadVersion(
    const std::string& name, const std::string& root, const std::string& path,
    const ModelOptions& options) const {
  if (!IsConfiguredRoot(root)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the model root of \"", name, "\" is not configured on this server"));
  }
  GHOST_ASSIGN_OR_RETURN(const ModelLocation location, ResolveUnderRoot(root, path));
  LogInfo(absl::StrCat("model ", name, " loading from ", path, " on ",
                       DeviceSelection{options.device, options.device_index}.ToString()));
  // Every file the load opens must lie under the model's root, checked on the opened file.
  const ScopedReadRoots confined({location.root});
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(location.directory, options);
  if (!model.ok()) return RelativeToRoot(model.status(), root);
  absl::StatusOr<std::unique_ptr<Executor>> executor = Executor::Create(*model, options_.executor);
  if (!executor.ok()) return RelativeToRoot(executor.status(), root);
  return std::make_unique<LoadedModel>(LoadedModel{name, *model, *std::move(executor)});
}

void Registry::FinishLoad(const std::string& name,
                          absl::StatusOr<std::unique_ptr<LoadedModel>> loaded) {
  std::shared_ptr<LoadedModel> previous;  // released once no lock is held
  std::vector<ModelCallback> waiters;
  absl::StatusOr<ModelInfo> result = ShutDownError();
  {
    absl::MutexLock admin(&admin_mu_);
    bool persist = false;
    {
      absl::MutexLock lock(&table_->mu);
      Entry& entry = table_->entries.at(name);  // Delete refuses a loading model
      waiters.swap(entry.load_waiters);
      if (table_->shut_down) {
        // Shutdown dropped the serving version; `loaded` is freed when this function returns.
        Transition(entry.info,
                   entry.live_versions > 0 ? ModelState::kUnloading : ModelState::kAvailable);
      } else if (loaded.ok()) {
        ++entry.live_versions;
        previous = std::move(entry.serving);
        entry.serving.reset((*loaded).release(), [table = table_](LoadedModel* version) {
          ReleaseVersion(table, version);
        });
        entry.info.summary = entry.serving->model->summary();
        entry.info.weight_budget_bytes = entry.info.summary.weight_budget_bytes;
        // The context served: the KV budget may hold fewer positions than the model's files say.
        entry.info.summary.context_length = entry.serving->executor->context_tokens();
        entry.info.reason.clear();
        Transition(entry.info, ModelState::kReady);
        persist = !entry.info.load_at_start;
        entry.info.load_at_start = true;
        result = entry.info;
      } else {
        const std::string why(loaded.status().message());
        const bool serving = entry.serving != nullptr;
        entry.info.reason =
            serving ? absl::StrCat("reload failed, still serving the previous version: ", why)
                    : why;
        Transition(entry.info, serving ? ModelState::kReady : ModelState::kFailed);
        result = loaded.status();
      }
    }
    if (persist) Persist().IgnoreError();  // logged; the model serves either way
  }
  if (result.ok()) {
    // Not "ready": start-up scripts wait for ghostserve's own "model X ready" line.
    LogInfo(absl::StrCat("model ", name, " loaded and serving"));
  } else {
    LogWarning(absl::StrCat("model ", name, " failed to load: ", result.status().message()));
  }
  previous.reset();
  for (ModelCallback& done : waiters) std::move(done)(result);
}

absl::Status Registry::StartUnload(const std::string& name, ModelCallback& done,
                                   std::shared_ptr<LoadedModel>& released, bool& persist) {
  if (table_->shut_down) return ShutDownError();
  const auto it = table_->entries.find(name);
  if (it == table_->entries.end()) return NotFound(name);
  Entry& entry = it->second;
  switch (entry.info.state) {
    case ModelState::kUnloading:
      break;  // joins the unload in progress
    case ModelState::kReady:
      Transition(entry.info, ModelState::kUnloading);
      released = std::move(entry.serving);
      entry.info.reason.clear();
      persist = entry.info.load_at_start;
      entry.info.load_at_start = false;
      break;
    case ModelState::kLoading:
      return absl::FailedPreconditionError(
          absl::StrCat("model \"", name, "\" is loading; unload it once the load has finished"));
    default:
      return absl::FailedPreconditionError(absl::StrCat(
          "model \"", name, "\" is not loaded (state: ", ModelStateName(entry.info.state), ")"));
  }
  entry.unload_waiters.push_back(std::move(done));
  return absl::OkStatus();
}

void Registry::UnloadAsync(const std::string& name, ModelCallback done) {
  std::shared_ptr<LoadedModel> released;
  absl::Status started;
  {
    absl::MutexLock admin(&admin_mu_);
    bool persist = false;
    {
      absl::MutexLock lock(&table_->mu);
      started = StartUnload(name, done, released, persist);
    }
    if (persist) Persist().IgnoreError();  // logged; the unload goes on
  }
  if (!started.ok()) return std::move(done)(started);
  LogInfo(absl::StrCat("model ", name, " unloading"));
  // With no request in flight this releases the version here, and `done` runs before return.
  released.reset();
}

void Registry::Shutdown() {
  std::vector<std::shared_ptr<LoadedModel>> released;
  std::vector<ModelCallback> cancelled;
  {
    absl::MutexLock lock(&table_->mu);
    if (!table_->shut_down) {
      table_->shut_down = true;
      const std::set<std::string> queued(table_->load_queue.begin(), table_->load_queue.end());
      table_->load_queue.clear();
      for (auto& [name, entry] : table_->entries) {
        if (entry.serving != nullptr) released.push_back(std::move(entry.serving));
        if (entry.info.state == ModelState::kReady || queued.count(name) > 0) {
          Transition(entry.info,
                     entry.live_versions > 0 ? ModelState::kUnloading : ModelState::kAvailable);
        }
        if (queued.count(name) > 0) {
          for (ModelCallback& done : entry.load_waiters) cancelled.push_back(std::move(done));
          entry.load_waiters.clear();
        }
      }
    }
  }
  for (ModelCallback& done : cancelled) std::move(done)(ShutDownError());
  released.clear();  // versions without requests in flight are freed here
  if (loader_.joinable()) loader_.join();
}

}  // namespace internal

using internal::Registry;

absl::Status RegistryOptions::Validate() const {
  if (model_roots.empty()) return absl::InvalidArgumentError("no model roots configured");
  if (registry_dir.empty()) return absl::InvalidArgumentError("no registry directory configured");
  GHOST_RETURN_IF_ERROR(ResolveModelRoots(model_roots).status());
  GHOST_RETURN_IF_ERROR(model.Validate());
  return executor.Validate();
}

absl::StatusOr<std::unique_ptr<ModelRegistry>> ModelRegistry::Create(
    const RegistryOptions& options) {
  GHOST_RETURN_IF_ERROR(options.Validate());
  GHOST_ASSIGN_OR_RETURN(std::vector<ModelRoot> roots, ResolveModelRoots(options.model_roots));
  GHOST_ASSIGN_OR_RETURN(std::unique_ptr<RegistryStore> store,
                         RegistryStore::Open(options.registry_dir));
  auto registry = std::make_unique<Registry>(options, std::move(roots), std::move(store));
  GHOST_RETURN_IF_ERROR(registry->Restore());
  registry->DiscoverModels();
  registry->Start();
  return std::unique_ptr<ModelRegistry>(std::move(registry));
}

absl::StatusOr<ModelInfo> ModelRegistry::Load(const std::string& name, LoadMode mode) {
  absl::Notification done;
  absl::StatusOr<ModelInfo> result;
  LoadAsync(name, mode, [&](absl::StatusOr<ModelInfo> outcome) {
    result = std::move(outcome);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

absl::StatusOr<ModelInfo> ModelRegistry::Unload(const std::string& name) {
  absl::Notification done;
  absl::StatusOr<ModelInfo> result;
  UnloadAsync(name, [&](absl::StatusOr<ModelInfo> outcome) {
    result = std::move(outcome);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

}  // namespace ghost
