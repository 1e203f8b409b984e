// Models found where they lie: the directories directly under the model roots, listed without
// an Import (RegistryOptions::discover_models).
#include <filesystem>
#include <map>
#include <set>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/log.h"
#include "engine/common/owned_directory.h"
#include "engine/registry/registry_impl.h"

namespace ghost::internal {
namespace {

namespace fs = std::filesystem;

struct FoundModel {
  std::string root;  // canonical
  std::string path;  // the directory's name
  absl::StatusOr<ModelSummary> summary;
};

// Whether `directory` should be listed: it holds a config.json, or it cannot be looked into
// (then it is listed FAILED, saying why, rather than silently missing).
bool LooksLikeModel(const fs::path& directory) {
  std::error_code error;
  if (fs::exists(directory / kOwnerMarkerFile, error)) return false;  // the server is writing it
  const bool has_config = fs::exists(directory / "config.json", error);
  return has_config || (error && error != std::errc::no_such_file_or_directory);
}

// The model directories directly under `root`, by name; their config.json is read here, with no
// registry lock held.
void ScanRoot(const std::string& root, const std::set<std::string>& taken,
              std::map<std::string, FoundModel>& found) {
  std::error_code error;
  fs::directory_iterator it(root, fs::directory_options::skip_permission_denied, error);
  for (; !error && it != fs::directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    std::error_code type_error;
    if (!ValidateModelName(name).ok() || taken.contains(name) || found.contains(name) ||
        !it->is_directory(type_error) || !LooksLikeModel(it->path())) {
      continue;
    }
    absl::StatusOr<ModelLocation> location = ResolveUnderRoot(root, name);
    absl::StatusOr<ModelSummary> summary =
        location.ok() ? ReadSummary(*location) : absl::StatusOr<ModelSummary>(location.status());
    if (!summary.ok()) summary = RelativeToRoot(summary.status(), root);
    found.emplace(name, FoundModel{root, name, std::move(summary)});
  }
  if (error) LogWarning(absl::StrCat("model root ", root, " not fully scanned: ", error.message()));
}

}  // namespace

void Registry::DiscoverModels() {
  if (!options_.discover_models) return;
  absl::MutexLock admin(&admin_mu_);
  std::set<std::string> taken;  // names of entries that are not rescanned discoveries
  {
    absl::MutexLock lock(&table_->mu);
    if (table_->shut_down) return;
    for (const auto& [name, entry] : table_->entries) {
      if (!entry.rescan) taken.insert(name);
    }
  }
  std::map<std::string, FoundModel> found;
  for (const ModelRoot& root : roots_) ScanRoot(root.canonical, taken, found);

  bool persist = false;
  {
    absl::MutexLock lock(&table_->mu);
    // A failed discovery is replaced by what this scan found (dropped when its directory is
    // gone); one that LoadModel has since loaded is a model like any other.
    for (auto it = table_->entries.begin(); it != table_->entries.end();) {
      Entry& entry = it->second;
      if (entry.rescan && entry.info.state != ModelState::kFailed) {
        entry.rescan = false;
        persist = true;
      }
      it = entry.rescan ? table_->entries.erase(it) : std::next(it);
    }
    for (auto& [name, model] : found) {
      if (table_->entries.contains(name)) continue;  // imported or loading meanwhile
      Entry& entry = table_->entries[name];
      entry.info.name = name;
      entry.info.root = model.root;
      entry.info.path = model.path;
      if (model.summary.ok()) {
        entry.info.summary = *std::move(model.summary);
        persist = true;
        LogInfo(absl::StrCat("model ", name, " found in its model root"));
      } else {
        entry.info.state = ModelState::kFailed;
        entry.info.reason = std::string(model.summary.status().message());
        entry.rescan = true;
      }
    }
  }
  // A write failure is logged by Persist; the entries serve meanwhile and are written with the
  // next change.
  if (persist) Persist().IgnoreError();
}

}  // namespace ghost::internal
