// The safetensors weights of a model directory: one model.safetensors, or the shards that
// model.safetensors.index.json lists ("weight_map": tensor name -> shard file). Every file is
// mapped once; Find() looks a tensor up in the file that holds it.
#ifndef GHOST_ENGINE_CHECKPOINT_CHECKPOINT_H_
#define GHOST_ENGINE_CHECKPOINT_CHECKPOINT_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/checkpoint/safetensors.h"

namespace ghost {

class SafetensorsCheckpoint {
 public:
  // model.safetensors when present, else model.safetensors.index.json and its shards (one
  // progress line per shard goes to the log). NOT_FOUND naming both files when neither exists.
  // INVALID_ARGUMENT naming the index file and the entry for a malformed index, a shard name
  // that is not a plain file name inside `directory` (a '/', "..", an absolute path, a symlink
  // out of the directory) or a tensor missing from the shard the index assigns it to.
  static absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> Open(const std::string& directory);

  // A checkpoint of one already opened file.
  explicit SafetensorsCheckpoint(std::unique_ptr<SafetensorsFile> file);

  // nullptr when absent.
  const TensorView* Find(std::string_view name) const;
  // Every tensor Find() answers for, sorted.
  std::vector<std::string> tensor_names() const;
  // The file holding `name`, for error messages; path() when no file holds it.
  const std::string& FileOf(std::string_view name) const;
  // model.safetensors, or the index file of a sharded checkpoint.
  const std::string& path() const { return path_; }
  std::size_t num_files() const { return files_.size(); }

 private:
  SafetensorsCheckpoint() = default;
  static absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> OpenSharded(
      const std::string& directory, const std::string& index_path);
  const SafetensorsFile* FileHolding(std::string_view name) const;

  std::string path_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  // Sharded only: tensor name -> index into files_, from the weight_map.
  absl::flat_hash_map<std::string, std::size_t> file_of_tensor_;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_CHECKPOINT_CHECKPOINT_H_
