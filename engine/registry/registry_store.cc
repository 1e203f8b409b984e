#include "engine/registry/registry_store.h"

#include <filesystem>
#include <set>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/common/file.h"
#include "engine/common/json.h"
#include "engine/common/status_macros.h"
#include "engine/registry/model_path.h"

namespace ghost {
namespace {

constexpr char kFormat[] = "ghost-registry";
constexpr int kVersion = 1;

absl::Status Corrupt(const std::string& file, const std::string& what) {
  return absl::DataLossError(
      absl::StrCat(file, ": not a valid registry file: ", what, "; repair it or move it away"));
}

absl::StatusOr<StoredModel> ParseEntry(const nlohmann::json& entry, const std::string& file) {
  if (!entry.is_object()) return Corrupt(file, "a model entry is not an object");
  StoredModel model;
  for (const auto& [key, target] : {std::pair<const char*, std::string*>{"name", &model.name},
                                    {"root", &model.root},
                                    {"path", &model.path}}) {
    const auto it = entry.find(key);
    if (it == entry.end() || !it->is_string() || it->get<std::string>().empty()) {
      return Corrupt(file, absl::StrCat("a model entry lacks the string \"", key, "\""));
    }
    *target = it->get<std::string>();
  }
  if (!ValidateModelName(model.name).ok()) {
    return Corrupt(file, absl::StrCat("invalid model name \"", model.name, "\""));
  }
  for (const auto& [key, target] :
       {std::pair<const char*, bool*>{"load_at_start", &model.load_at_start},
        {"created_by_server", &model.created_by_server}}) {
    const auto it = entry.find(key);
    if (it == entry.end()) continue;
    if (!it->is_boolean()) return Corrupt(file, absl::StrCat("\"", key, "\" is not a boolean"));
    *target = it->get<bool>();
  }
  return model;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RegistryStore>> RegistryStore::Open(const std::string& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error || !std::filesystem::is_directory(directory, error)) {
    return absl::FailedPreconditionError(
        absl::StrCat("registry directory ", directory, " cannot be created"));
  }
  GHOST_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock,
                         FileLock::Acquire(JoinPath(directory, "lock")));
  return std::unique_ptr<RegistryStore>(
      new RegistryStore(JoinPath(directory, "registry.json"), std::move(lock)));
}

absl::StatusOr<std::vector<StoredModel>> RegistryStore::Read() const {
  absl::StatusOr<std::string> text = ReadFileToString(file_);
  if (absl::IsNotFound(text.status())) return std::vector<StoredModel>();
  if (!text.ok()) return text.status();
  absl::StatusOr<nlohmann::json> json = ParseJsonStrict(*text, file_);
  if (!json.ok()) return Corrupt(file_, std::string(json.status().message()));
  if (!json->is_object()) return Corrupt(file_, "not a JSON object");
  const auto format = json->find("format");
  if (format == json->end() || !format->is_string() || *format != kFormat) {
    return Corrupt(file_, absl::StrCat("\"format\" is not \"", kFormat, "\""));
  }
  const auto version = json->find("version");
  if (version == json->end() || !version->is_number_integer() || *version != kVersion) {
    return Corrupt(file_,
                   absl::StrCat("unsupported \"version\" (this server reads ", kVersion, ")"));
  }
  const auto models = json->find("models");
  if (models == json->end() || !models->is_array()) return Corrupt(file_, "no \"models\" array");
  std::vector<StoredModel> result;
  std::set<std::string> names;
  for (const nlohmann::json& entry : *models) {
    GHOST_ASSIGN_OR_RETURN(StoredModel model, ParseEntry(entry, file_));
    if (!names.insert(model.name).second) {
      return Corrupt(file_, absl::StrCat("model \"", model.name, "\" appears twice"));
    }
    result.push_back(std::move(model));
  }
  return result;
}

absl::Status RegistryStore::Write(const std::vector<StoredModel>& models) const {
  nlohmann::json entries = nlohmann::json::array();
  for (const StoredModel& model : models) {
    entries.push_back({{"name", model.name},
                       {"root", model.root},
                       {"path", model.path},
                       {"load_at_start", model.load_at_start},
                       {"created_by_server", model.created_by_server}});
  }
  const nlohmann::json file = {{"format", kFormat}, {"version", kVersion}, {"models", entries}};
  return WriteFileDurably(file_, file.dump(2) + "\n");
}

}  // namespace ghost
