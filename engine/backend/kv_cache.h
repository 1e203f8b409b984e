// The paged KV cache: a fixed pool of blocks of kBlockTokens positions each, shared by all the
// sequences of one executor, and per-sequence block tables mapping positions to blocks. Its
// storage (KvStorage) is a backend's memory; the backend's ops read and write it during a
// forward; the scheduler (runtime/) owns the cache.
// Not thread-safe: one thread (the scheduler, or a session's caller) uses a cache and its tables.
#ifndef GHOST_ENGINE_BACKEND_KV_CACHE_H_
#define GHOST_ENGINE_BACKEND_KV_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "engine/backend/device.h"
#include "engine/backend/kv_dtype.h"

namespace ghost {

class PagedKvCache;

struct KvCacheShape {
  int num_layers = 0;
  int num_kv_heads = 0;
  int head_dim = 0;

  // Elements of one position's keys (or values) in one layer.
  std::size_t kv_dim() const { return static_cast<std::size_t>(num_kv_heads) * head_dim; }
  // K and V of every layer for one block, stored as `dtype`.
  std::size_t BlockBytes(KvDtype dtype) const;
  bool operator==(const KvCacheShape&) const = default;
};

// The blocks of one sequence, in position order: position p lives in row p % kBlockTokens of
// blocks()[p / kBlockTokens]. Only PagedKvCache::Resize changes it. Move-only; gives its
// blocks back to the cache when destroyed, so the cache must outlive its tables.
class KvBlockTable {
 public:
  KvBlockTable() = default;
  KvBlockTable(KvBlockTable&& other) noexcept;
  KvBlockTable& operator=(KvBlockTable&& other) noexcept;
  ~KvBlockTable();

  absl::Span<const std::int32_t> blocks() const { return blocks_; }
  // Positions the table can hold without a new block.
  int capacity() const;
  // Whether the blocks are `cache`'s (an empty table belongs to any cache).
  bool IsFrom(const PagedKvCache& cache) const { return blocks_.empty() || cache_ == &cache; }

 private:
  friend class PagedKvCache;
  void Release();

  PagedKvCache* cache_ = nullptr;  // set by the first Resize
  std::vector<std::int32_t> blocks_;
};

// The memory a cache keeps its blocks in, made by a backend (Backend::NewKvStorage): host
// memory on the CPU, device memory on a GPU.
class KvStorage {
 public:
  virtual ~KvStorage() = default;
  // The device whose ops can read and write it.
  virtual Device device() const = 0;
  // The first byte, in the device's address space.
  virtual std::byte* data() const = 0;
  // Stores `count` fp32 values from host memory at byte `offset` as `dtype` elements.
  virtual void StoreRow(KvDtype dtype, const float* values, std::size_t count,
                        std::size_t offset) = 0;
};

class PagedKvCache {
 public:
  static constexpr int kBlockTokens = 16;

  // A pool of `num_blocks` (>= 1) blocks storing keys and values as `dtype`, in `storage`
  // (StorageBytes(shape, num_blocks, dtype) bytes at least, from the backend that runs the
  // model).
  PagedKvCache(const KvCacheShape& shape, int num_blocks, KvDtype dtype,
               std::unique_ptr<KvStorage> storage);
  // The same in host memory (the CPU backend's, cpu/cpu_backend.h): reserved, not touched, so
  // that pages are committed as blocks are first written.
  PagedKvCache(const KvCacheShape& shape, int num_blocks, KvDtype dtype);
  PagedKvCache(const PagedKvCache&) = delete;
  PagedKvCache& operator=(const PagedKvCache&) = delete;
  ~PagedKvCache();

  // Blocks of `dtype` that fit in `capacity_mib` (0 when not even one does), at most
  // INT_MAX / kBlockTokens so that token_capacity() fits an int. The
  // budget alone decides: a model's context length never grows the pool (a file's word is no
  // memory budget), so the context a pool can serve is token_capacity().
  static int BlocksForCapacity(const KvCacheShape& shape, KvDtype dtype, std::int64_t capacity_mib);
  static int BlocksForTokens(int tokens) { return (tokens + kBlockTokens - 1) / kBlockTokens; }
  // Bytes of storage a pool of `num_blocks` (at least 1) blocks needs.
  static std::size_t StorageBytes(const KvCacheShape& shape, int num_blocks, KvDtype dtype);

  // The one method that allocates and frees blocks: grows `table` with free blocks or shrinks
  // it (returning blocks to the pool) until it holds exactly BlocksForTokens(tokens) blocks.
  // Returns false, with the table unchanged, when too few blocks are free.
  [[nodiscard]] bool Resize(KvBlockTable& table, int tokens);

  const KvCacheShape& shape() const { return shape_; }
  KvDtype dtype() const { return dtype_; }
  int num_blocks() const { return num_blocks_; }
  int blocks_in_use() const { return num_blocks_ - static_cast<int>(free_.size()); }
  int free_blocks() const { return static_cast<int>(free_.size()); }
  int token_capacity() const { return num_blocks_ * kBlockTokens; }
  // blocks_in_use / num_blocks, in [0, 1].
  double usage_ratio() const { return static_cast<double>(blocks_in_use()) / num_blocks_; }

  // The device whose memory holds the blocks.
  Device device() const { return storage_->device(); }
  // [kBlockTokens, kv_dim] rows of keys / values of `layer` in `block`, as dtype() elements, in
  // the storage's address space (the backend's attention reads them in place).
  const void* keys(int layer, std::int32_t block) const { return Block(layer, block, 0); }
  const void* values(int layer, std::int32_t block) const { return Block(layer, block, 1); }
  // Stores one position's keys and values (kv_dim floats each, in host memory) of `layer` in
  // `row` of `block`, converted to dtype().
  void Write(int layer, std::int32_t block, int row, const float* keys, const float* values);

 private:
  // Of the keys (kind 0) or values (kind 1) of `layer` in `block`, in bytes.
  std::size_t Offset(int layer, std::int32_t block, int kind) const {
    return ((static_cast<std::size_t>(layer) * num_blocks_ + block) * 2 + kind) * block_bytes_;
  }
  std::byte* Block(int layer, std::int32_t block, int kind) const {
    return storage_->data() + Offset(layer, block, kind);
  }

  const KvCacheShape shape_;
  const int num_blocks_;
  const KvDtype dtype_;
  const std::size_t block_bytes_;  // one block's keys (or values) of one layer
  // [layer][block][K|V][kBlockTokens * kv_dim]
  const std::unique_ptr<KvStorage> storage_;
  std::vector<std::int32_t> free_;  // a stack: the most recently freed block is reused first
};

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_KV_CACHE_H_
