// The model registry: which model directories are registered (persisted in the registry
// directory), their life-cycle states (model_state.h), and the executors of loaded models.
// Thread-safe. Loads run on one loader thread; no registry lock is held while a model loads.
#ifndef GHOST_ENGINE_REGISTRY_REGISTRY_H_
#define GHOST_ENGINE_REGISTRY_REGISTRY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "engine/backend/device.h"
#include "engine/model/model.h"
#include "engine/registry/model_state.h"
#include "engine/runtime/executor.h"

namespace ghost {

struct ModelInfo {
  std::string name;
  std::string root;  // canonical model root holding it; stays on the server
  std::string path;  // relative to root; what clients see
  ModelState state = ModelState::kAvailable;
  // Why it is kFailed; while kReady, why the last reload failed (the old version serves).
  std::string reason;
  bool load_at_start = false;      // it was ready when the registry was last written
  bool created_by_server = false;  // Delete removes the directory as well
  ModelSummary summary;            // from config.json, completed (parameters, ...) once loaded
  // Where it serves, or where its last load went ("cpu", "cuda:0"); "" before any load.
  std::string device;
  // The weight budget of its last successful load (a LoadOptions one, or the server's,
  // RegistryOptions::model), which later loads keep; not persisted across restarts.
  std::optional<std::int64_t> weight_budget_bytes;
};

struct LoadOptions {
  // The model's weight budget from this load on (ModelOptions::weight_budget_bytes; 0: every
  // weight resident); unset keeps the one it has.
  std::optional<std::int64_t> weight_budget_bytes;
  // The device it loads on from this load on; unset keeps the one it has (at first the
  // registry's, RegistryOptions::device). A device the machine lacks fails this model's load
  // (kFailed, or the serving version stays) with FAILED_PRECONDITION naming the cause; other
  // models are unaffected. FAILED_PRECONDITION when a load on another device is in progress.
  std::optional<DeviceSelection> device;
};

struct RegistryOptions {
  std::vector<std::string> model_roots;  // each must be an existing directory
  // Models found where they lie: at start and on DiscoverModels, every directory directly under
  // a root that holds a config.json is listed under its directory name without an Import.
  bool discover_models = false;
  // Holds registry.json and its lock file; created when missing. One registry per directory.
  std::string registry_dir;
  ExecutorOptions executor;
  // Where a model loads unless a LoadOptions names a device (`--device`).
  DeviceSelection device;
  // How models load: the default weight budget and streaming slots. An empty layer_cache_dir
  // means <registry_dir>/layer-cache.
  ModelOptions model;

  absl::Status Validate() const;
};

// A loaded version of a model. The registry hands it out as shared_ptr: unloading (or a
// successful reload) drops only the registry's reference, and when the last holder (an
// in-flight request) lets go, the executor shuts down and the weights are freed on that
// thread. A sink of the executor must therefore never own one.
struct LoadedModel {
  std::string name;
  std::shared_ptr<const Model> model;
  std::unique_ptr<Executor> executor;
};

// Who made a model directory: DeleteModel removes only the directories the server created
// (compression outputs); for imported ones it removes only the registry entry.
enum class ModelOrigin { kImported, kCreatedByServer };

// Receives the outcome of an asynchronous operation, called without any registry lock held.
using ModelCallback = absl::AnyInvocable<void(absl::StatusOr<ModelInfo>) &&>;

enum class LoadMode {
  kReload,       // a ready model loads its directory again (LoadModel after files changed)
  kIfNotLoaded,  // a ready model is reported ready at once (start-up)
};

class ModelRegistry {
 public:
  // Locks options.registry_dir (FAILED_PRECONDITION when another registry holds it), restores
  // its entries (an entry whose directory or config.json is gone becomes kFailed) and starts
  // loading those that were ready.
  static absl::StatusOr<std::unique_ptr<ModelRegistry>> Create(const RegistryOptions& options);
  virtual ~ModelRegistry() = default;

  virtual std::vector<ModelInfo> List() const = 0;
  // With RegistryOptions::discover_models (otherwise nothing), scans each root's immediate
  // subdirectories: one holding a config.json (or one that cannot be read) and named as a model
  // may be (ValidateModelName), whose name no entry has yet, is added AVAILABLE (its config.json
  // parses; persisted like an import) or FAILED with the reason (kept in memory only and checked
  // again at every scan, so a fixed directory becomes available; one that is gone is dropped).
  // The first root holding a name wins; directories the server is writing (an ownership marker,
  // owned_directory.h) are left to their writer. ImportModel remains for other names and nested
  // paths.
  virtual void DiscoverModels() = 0;
  // NOT_FOUND naming the known models.
  virtual absl::StatusOr<ModelInfo> Get(const std::string& name) const = 0;

  // Registers the directory `path` (resolved by ResolveModelPath: relative to a model root or
  // absolute inside one) as `name` once its config.json parses, and persists the entry.
  // INVALID_ARGUMENT for a bad name, ALREADY_EXISTS for a taken one, path errors as there.
  virtual absl::StatusOr<ModelInfo> Import(const std::string& name, const std::string& path,
                                           ModelOrigin origin) = 0;
  // Loads the model on the loader thread (kLoading, then kReady or kFailed) and calls `done`
  // with the outcome. With kReload a ready model loads its directory again beside the serving
  // version, which is swapped out only on success; a load already in progress is joined.
  // Immediate outcomes (NOT_FOUND, FAILED_PRECONDITION while importing or unloading,
  // UNAVAILABLE after Shutdown, ready with kIfNotLoaded) reach `done` before this returns.
  // `options` apply from this load on (a load already in progress keeps its own).
  virtual void LoadAsync(const std::string& name, LoadMode mode, const LoadOptions& options,
                         ModelCallback done) = 0;
  void LoadAsync(const std::string& name, LoadMode mode, ModelCallback done) {
    LoadAsync(name, mode, LoadOptions{}, std::move(done));
  }
  // Stops handing the model out (kUnloading: GetReady answers UNAVAILABLE) and calls `done`
  // once the last in-flight request has released it and its memory is freed (kAvailable).
  // FAILED_PRECONDITION when it is not ready; an unload in progress is joined.
  virtual void UnloadAsync(const std::string& name, ModelCallback done) = 0;
  // Removes the entry (and a server-created directory). FAILED_PRECONDITION unless the model
  // is available or failed.
  virtual absl::Status Delete(const std::string& name) = 0;

  // The serving version: NOT_FOUND for an unknown name, UNAVAILABLE when not loaded or after
  // Shutdown.
  virtual absl::StatusOr<std::shared_ptr<LoadedModel>> GetReady(const std::string& name) const = 0;
  // Refuses further operations, fails queued loads, drops every serving version (in-flight
  // requests keep theirs until they finish) and joins the loader thread. Call it from one
  // thread; the destructor calls it too. The persisted entries keep their load_at_start.
  virtual void Shutdown() = 0;

  // Blocking forms of LoadAsync and UnloadAsync. Never call them from a ModelCallback.
  absl::StatusOr<ModelInfo> Load(const std::string& name, LoadMode mode = LoadMode::kReload);
  absl::StatusOr<ModelInfo> Unload(const std::string& name);
};

}  // namespace ghost

#endif  // GHOST_ENGINE_REGISTRY_REGISTRY_H_
