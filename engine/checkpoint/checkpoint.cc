#include "engine/checkpoint/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/common/file.h"
#include "engine/common/json.h"
#include "engine/common/log.h"
#include "engine/common/status_macros.h"

namespace ghost {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr char kSingleFile[] = "model.safetensors";
constexpr char kIndexFile[] = "model.safetensors.index.json";

absl::Status IndexError(const std::string& index_path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(index_path, ": ", message));
}

// A shard must be a plain file name that stays inside the model directory even after
// following symlinks, so that an index cannot make the server map arbitrary files.
absl::Status CheckShardName(const std::string& index_path, const std::string& directory,
                            const std::string& tensor, const std::string& shard) {
  const auto bad = [&](absl::string_view why) {
    return IndexError(
        index_path, absl::StrCat("weight_map entry \"", tensor, "\": shard \"", shard, "\" ", why));
  };
  if (shard.empty() || shard == "." || shard == "..") return bad("is not a file name");
  if (shard.find('/') != std::string::npos || shard.find('\\') != std::string::npos ||
      shard.find('\0') != std::string::npos) {
    return bad("must be a plain file name in the model directory (no path separators)");
  }
  std::error_code error;
  const fs::path canonical_dir = fs::canonical(directory, error);
  if (error) return bad(absl::StrCat("cannot be checked: ", error.message()));
  const fs::path target = fs::canonical(fs::path(directory) / shard, error);
  if (error) return absl::OkStatus();  // missing: opening it reports NOT_FOUND with its path
  if (target.parent_path() != canonical_dir) {
    return bad("is a symlink that leaves the model directory");
  }
  return absl::OkStatus();
}

std::string HumanBytes(std::uintmax_t bytes) {
  if (bytes >= (std::uintmax_t{1} << 30)) return absl::StrFormat("%.1f GiB", bytes / 1073741824.0);
  return absl::StrFormat("%.1f MiB", bytes / 1048576.0);
}

}  // namespace

SafetensorsCheckpoint::SafetensorsCheckpoint(std::unique_ptr<SafetensorsFile> file)
    : path_(file->path()) {
  files_.push_back(std::move(file));
}

absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> SafetensorsCheckpoint::Open(
    const std::string& directory) {
  const std::string single = JoinPath(directory, kSingleFile);
  absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(single);
  if (file.ok()) return std::make_unique<SafetensorsCheckpoint>(*std::move(file));
  if (!absl::IsNotFound(file.status())) return file.status();
  const std::string index_path = JoinPath(directory, kIndexFile);
  std::error_code error;
  if (!fs::exists(index_path, error)) {
    return absl::NotFoundError(
        absl::StrCat(directory, ": no weights (neither ", kSingleFile, " nor ", kIndexFile, ")"));
  }
  return OpenSharded(directory, index_path);
}

absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> SafetensorsCheckpoint::OpenSharded(
    const std::string& directory, const std::string& index_path) {
  GHOST_ASSIGN_OR_RETURN(const std::string text, ReadFileToString(index_path));
  GHOST_ASSIGN_OR_RETURN(Json index, ParseJsonStrict(text, index_path));
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object() ||
      index["weight_map"].empty()) {
    return IndexError(index_path, "\"weight_map\" must be a non-empty object");
  }
  auto checkpoint = std::unique_ptr<SafetensorsCheckpoint>(new SafetensorsCheckpoint());
  checkpoint->path_ = index_path;
  // Shards in file name order; each distinct name is opened once.
  std::map<std::string, std::vector<std::string>> tensors_of_shard;
  for (const auto& [tensor, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) {
      return IndexError(index_path,
                        absl::StrCat("weight_map entry \"", tensor, "\" must be a file name, got ",
                                     JsonSnippet(shard)));
    }
    const std::string name = shard.get<std::string>();
    GHOST_RETURN_IF_ERROR(CheckShardName(index_path, directory, tensor, name));
    tensors_of_shard[name].push_back(tensor);
  }
  std::size_t number = 0;
  for (const auto& [shard, tensors] : tensors_of_shard) {
    const std::string path = JoinPath(directory, shard);
    std::error_code error;
    const std::uintmax_t size = fs::file_size(path, error);
    if (error) {
      const std::string message = absl::StrCat(index_path, ": shard ", shard, " (of tensor ",
                                               tensors.front(), "): ", error.message());
      return error == std::errc::no_such_file_or_directory ? absl::NotFoundError(message)
                                                           : absl::InvalidArgumentError(message);
    }
    LogInfo(absl::StrFormat("loading shard %d/%d: %s (%s)", ++number, tensors_of_shard.size(),
                            shard, HumanBytes(size)));
    GHOST_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> file, SafetensorsFile::Open(path));
    for (const std::string& tensor : tensors) {
      if (file->Find(tensor) == nullptr) {
        return IndexError(index_path, absl::StrCat("tensor ", tensor, " is mapped to ", shard,
                                                   ", which does not contain it"));
      }
      checkpoint->file_of_tensor_[tensor] = checkpoint->files_.size();
    }
    checkpoint->files_.push_back(std::move(file));
  }
  return checkpoint;
}

const SafetensorsFile* SafetensorsCheckpoint::FileHolding(std::string_view name) const {
  if (file_of_tensor_.empty()) return files_.front().get();  // one file holds everything
  const auto it = file_of_tensor_.find(absl::string_view(name.data(), name.size()));
  return it == file_of_tensor_.end() ? nullptr : files_[it->second].get();
}

const TensorView* SafetensorsCheckpoint::Find(std::string_view name) const {
  const SafetensorsFile* file = FileHolding(name);
  return file == nullptr ? nullptr : file->Find(name);
}

std::vector<std::string> SafetensorsCheckpoint::tensor_names() const {
  if (file_of_tensor_.empty()) return files_.front()->tensor_names();
  std::vector<std::string> names;
  for (const auto& [name, file] : file_of_tensor_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

const std::string& SafetensorsCheckpoint::FileOf(std::string_view name) const {
  const SafetensorsFile* file = FileHolding(name);
  return file != nullptr && file->Find(name) != nullptr ? file->path() : path_;
}

}  // namespace ghost
