// The registry's persistent side: restoring entries at start, import, delete, and writing
// registry.json after every change.
#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "engine/checkpoint/gguf.h"
#include "engine/checkpoint/gguf_import.h"
#include "engine/common/file.h"
#include "engine/common/log.h"
#include "engine/common/status_macros.h"
#include "engine/model/config.h"
#include "engine/registry/registry_impl.h"

namespace ghost::internal {
namespace {

namespace fs = std::filesystem;

// config.json is read while imports are serialized; bound what a hostile file can cost.
constexpr std::uintmax_t kMaxConfigBytes = 16 << 20;

// What a GGUF file's metadata tells, without converting its tensors.
absl::StatusOr<ModelSummary> ReadGgufSummary(const ModelLocation& location) {
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(location.directory);
  if (!file.ok()) return RelativeToRoot(file.status(), location.root);
  GHOST_ASSIGN_OR_RETURN(const nlohmann::json config, ImportGgufConfig(**file));
  GHOST_ASSIGN_OR_RETURN(const ModelConfig parsed, ParseModelConfig(config.dump(), location.path));
  ModelSummary summary;
  summary.architecture = parsed.architecture;
  summary.dtype = "gguf";
  summary.context_length = parsed.max_position_embeddings;
  summary.vocab_size = parsed.vocab_size;
  return summary;
}

}  // namespace

absl::StatusOr<ModelSummary> ReadSummary(const ModelLocation& location) {
  if (absl::EndsWith(location.directory, ".gguf")) return ReadGgufSummary(location);
  GHOST_ASSIGN_OR_RETURN(const std::string file, ResolveModelFile(location, "config.json"));
  const std::string shown = location.path + "/config.json";
  std::error_code error;
  // A FIFO or device named config.json must not block or flood the reader.
  if (!fs::is_regular_file(file, error) || fs::file_size(file, error) > kMaxConfigBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(shown, " is not a regular file of at most 16 MiB"));
  }
  absl::StatusOr<std::string> text = ReadFileToString(file);
  if (!text.ok()) return RelativeToRoot(text.status(), location.root);
  GHOST_ASSIGN_OR_RETURN(const ModelConfig config, ParseModelConfig(*text, shown));
  ModelSummary summary;
  summary.architecture = config.architecture;
  summary.dtype = ShortDtypeName(config.torch_dtype);
  summary.context_length = config.max_position_embeddings;
  summary.vocab_size = config.vocab_size;
  return summary;
}

absl::Status RelativeToRoot(const absl::Status& status, const std::string& root) {
  return absl::Status(status.code(), absl::StrReplaceAll(status.message(), {{root + "/", ""}}));
}

absl::Status ShutDownError() { return absl::UnavailableError("the model registry is shut down"); }

void Transition(ModelInfo& info, ModelState next) {
  if (absl::Status status = TransitionModelState(info.state, next); !status.ok()) {
    LogWarning(absl::StrCat("model ", info.name, ": ", status.message()));
  }
}

absl::Status Registry::NotFound(const std::string& name) const {
  std::vector<std::string> names;
  for (const auto& [known, entry] : table_->entries) names.push_back(known);
  return absl::NotFoundError(absl::StrCat("model \"", name, "\" not found; known models: ",
                                          names.empty() ? "(none)" : absl::StrJoin(names, ", ")));
}

bool Registry::IsConfiguredRoot(const std::string& root) const {
  for (const ModelRoot& configured : roots_) {
    if (configured.canonical == root) return true;
  }
  return false;
}

absl::Status Registry::Restore() {
  absl::MutexLock admin(&admin_mu_);
  GHOST_ASSIGN_OR_RETURN(const std::vector<StoredModel> stored, store_->Read());
  std::vector<Entry> restored;
  for (const StoredModel& model : stored) {
    Entry entry;
    entry.info.name = model.name;
    entry.info.root = model.root;
    entry.info.path = model.path;
    entry.info.load_at_start = model.load_at_start;
    entry.info.created_by_server = model.created_by_server;
    absl::StatusOr<ModelSummary> summary = absl::FailedPreconditionError(
        absl::StrCat("the model root of \"", model.name, "\" is not configured on this server"));
    if (IsConfiguredRoot(model.root)) {
      absl::StatusOr<ModelLocation> location = ResolveUnderRoot(model.root, model.path);
      summary = location.ok() ? ReadSummary(*location) : location.status();
    }
    if (summary.ok()) {
      entry.info.summary = *std::move(summary);
    } else {
      entry.info.state = ModelState::kFailed;
      entry.info.reason = std::string(summary.status().message());
      LogWarning(absl::StrCat("model ", model.name, ": ", entry.info.reason));
    }
    restored.push_back(std::move(entry));
  }
  absl::MutexLock lock(&table_->mu);
  int to_load = 0;
  for (Entry& entry : restored) {
    const std::string name = entry.info.name;
    const bool load = entry.info.load_at_start && entry.info.state == ModelState::kAvailable;
    table_->entries.emplace(name, std::move(entry));
    ModelCallback none;
    if (load && QueueLoad(name, std::nullopt, none).ok()) ++to_load;
  }
  LogInfo(absl::StrCat("model registry in ", options_.registry_dir, ": ", restored.size(),
                       " models, ", to_load, " loading"));
  return absl::OkStatus();
}

absl::Status Registry::Persist() {
  std::vector<StoredModel> models;
  {
    absl::MutexLock lock(&table_->mu);
    for (const auto& [name, entry] : table_->entries) {
      // An import still being checked, or a directory found unreadable (rescanned instead).
      if (entry.info.root.empty() || entry.rescan) continue;
      models.push_back(StoredModel{name, entry.info.root, entry.info.path, entry.info.load_at_start,
                                   entry.info.created_by_server});
    }
  }
  absl::Status status = store_->Write(models);
  if (status.ok()) return status;
  LogWarning(absl::StrCat("model registry not saved: ", status.message()));
  // The details name the registry directory, which is no business of clients.
  return absl::Status(status.code(), "the model registry could not be saved; see the server log");
}

absl::StatusOr<ModelInfo> Registry::Import(const std::string& name, const std::string& path,
                                           ModelOrigin origin) {
  GHOST_RETURN_IF_ERROR(ValidateModelName(name));
  absl::MutexLock admin(&admin_mu_);
  {
    absl::MutexLock lock(&table_->mu);
    if (table_->shut_down) return ShutDownError();
    if (const auto it = table_->entries.find(name); it != table_->entries.end()) {
      return absl::AlreadyExistsError(absl::StrCat("model \"", name, "\" already exists (path \"",
                                                   it->second.info.path,
                                                   "\"); choose another name or delete it first"));
    }
    Entry& entry = table_->entries[name];
    entry.info.name = name;
    entry.info.state = ModelState::kImporting;
    entry.info.created_by_server = origin == ModelOrigin::kCreatedByServer;
  }
  // Checked without the table lock; admin_mu_ keeps other admin calls off this entry.
  absl::StatusOr<ModelLocation> location = ResolveModelPath(roots_, path);
  absl::StatusOr<ModelSummary> summary =
      location.ok() ? ReadSummary(*location) : absl::StatusOr<ModelSummary>(location.status());
  {
    absl::MutexLock lock(&table_->mu);
    if (!summary.ok()) {
      table_->entries.erase(name);
      return summary.status();
    }
    ModelInfo& info = table_->entries.at(name).info;
    info.root = location->root;
    info.path = location->path;
    info.summary = *std::move(summary);
  }
  absl::Status saved = Persist();
  absl::MutexLock lock(&table_->mu);
  Entry& entry = table_->entries.at(name);
  if (!saved.ok()) {
    table_->entries.erase(name);
    return saved;
  }
  Transition(entry.info, ModelState::kAvailable);
  LogInfo(absl::StrCat("model ", name, " imported from ", entry.info.path));
  return entry.info;
}

absl::Status Registry::Delete(const std::string& name) {
  absl::MutexLock admin(&admin_mu_);
  Entry removed;
  bool remove_directory = false;
  {
    absl::MutexLock lock(&table_->mu);
    const auto it = table_->entries.find(name);
    if (it == table_->entries.end()) return NotFound(name);
    const ModelState state = it->second.info.state;
    if (state != ModelState::kAvailable && state != ModelState::kFailed) {
      return absl::FailedPreconditionError(
          absl::StrCat("model \"", name, "\" is ", ModelStateName(state),
                       state == ModelState::kImporting ? "" : "; unload it first"));
    }
    removed = std::move(it->second);
    table_->entries.erase(it);
    remove_directory = removed.info.created_by_server;
    // Another name may have been imported onto the same directory; it keeps the files.
    for (const auto& [other, entry] : table_->entries) {
      if (entry.info.root == removed.info.root && entry.info.path == removed.info.path) {
        remove_directory = false;
      }
    }
  }
  if (absl::Status saved = Persist(); !saved.ok()) {
    absl::MutexLock lock(&table_->mu);
    table_->entries.emplace(name, std::move(removed));
    return saved;
  }
  if (remove_directory) RemoveDirectory(removed.info);
  LogInfo(absl::StrCat("model ", name, " deleted"));
  return absl::OkStatus();
}

void Registry::RemoveDirectory(const ModelInfo& info) const {
  if (!IsConfiguredRoot(info.root)) return;
  // Resolved again so that only a directory still inside its root is removed; remove_all
  // deletes symlinks inside it without following them.
  absl::StatusOr<ModelLocation> location = ResolveUnderRoot(info.root, info.path);
  std::error_code error;
  if (location.ok()) fs::remove_all(location->directory, error);
  if (!location.ok() || error) {
    LogWarning(absl::StrCat("model ", info.name, ": directory ", info.path, " not removed: ",
                            location.ok() ? error.message() : location.status().message()));
  }
}

}  // namespace ghost::internal
