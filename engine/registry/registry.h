// The model registry: which model directories exist under the configured roots, which are
// loaded, and their executors. Thread-safe.
#ifndef GHOST_ENGINE_REGISTRY_REGISTRY_H_
#define GHOST_ENGINE_REGISTRY_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/model.h"
#include "engine/runtime/executor.h"

namespace ghost {

enum class ModelState { kAvailable, kLoading, kReady, kUnloading, kFailed };
const char* ModelStateName(ModelState state);

struct ModelInfo {
  std::string name;       // directory name
  std::string root;       // the model root it was found under
  std::string directory;  // absolute path
  ModelState state = ModelState::kAvailable;
  std::string reason;    // why kFailed
  ModelSummary summary;  // filled once loaded (or read from config.json when available)
};

struct RegistryOptions {
  std::vector<std::string> model_roots;  // each must be an existing directory
  ExecutorOptions executor;

  absl::Status Validate() const;
};

// A loaded model and its executor, kept alive by whoever holds the pointer.
struct LoadedModel {
  std::string name;
  std::shared_ptr<const Model> model;
  std::unique_ptr<Executor> executor;
};

class ModelRegistry {
 public:
  // Scans the roots: every subdirectory with a config.json is a model.
  static absl::StatusOr<std::unique_ptr<ModelRegistry>> Create(const RegistryOptions& options);
  virtual ~ModelRegistry() = default;

  virtual std::vector<ModelInfo> List() const = 0;
  // NOT_FOUND naming the known models.
  virtual absl::StatusOr<ModelInfo> Get(const std::string& name) const = 0;
  // Loads the model and starts its executor; returns the ready model. Loading an already
  // ready model returns it.
  virtual absl::StatusOr<std::shared_ptr<LoadedModel>> Load(const std::string& name) = 0;
  // The ready model, NOT_FOUND for an unknown name, UNAVAILABLE when known but not loaded.
  virtual absl::StatusOr<std::shared_ptr<LoadedModel>> GetReady(const std::string& name) const = 0;
  // Shuts the model's executor down (its requests get a final "cancelled" chunk) and returns
  // it to kAvailable. NOT_FOUND for an unknown name, FAILED_PRECONDITION when not ready.
  virtual absl::Status Unload(const std::string& name) = 0;
  // Shuts every executor down (in-flight requests get a final "cancelled" chunk).
  virtual void Shutdown() = 0;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_REGISTRY_REGISTRY_H_
