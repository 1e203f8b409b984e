// The registry's on-disk state: registry.json in the registry directory, replaced durably on
// every change, and a lock file that keeps a second server off the same directory.
#ifndef GHOST_ENGINE_REGISTRY_REGISTRY_STORE_H_
#define GHOST_ENGINE_REGISTRY_REGISTRY_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/common/durable_file.h"

namespace ghost {

// One registry entry as stored.
struct StoredModel {
  std::string name;
  std::string root;                // canonical model root
  std::string path;                // relative to root
  bool load_at_start = false;      // it was ready when last written
  bool created_by_server = false;  // DeleteModel removes the directory too
};

class RegistryStore {
 public:
  // Creates `directory` if needed and locks it for the store's lifetime; FAILED_PRECONDITION
  // when another store (in this or another process) holds it.
  static absl::StatusOr<std::unique_ptr<RegistryStore>> Open(const std::string& directory);

  // The stored entries; none before the first Write. DATA_LOSS naming the file when it is
  // not a valid registry file (it is never half-written, so that means it was edited).
  absl::StatusOr<std::vector<StoredModel>> Read() const;
  // Replaces the file with `models` (temp file -> fsync -> rename -> fsync(dir)).
  absl::Status Write(const std::vector<StoredModel>& models) const;

 private:
  RegistryStore(std::string file, std::unique_ptr<FileLock> lock)
      : file_(std::move(file)), lock_(std::move(lock)) {}

  const std::string file_;
  std::unique_ptr<FileLock> lock_;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_REGISTRY_REGISTRY_STORE_H_
