#include "engine/backend/kv_cache.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "engine/backend/cpu/cpu_backend.h"

namespace ghost {

std::size_t KvCacheShape::BlockBytes(KvDtype dtype) const {
  return 2 * static_cast<std::size_t>(num_layers) * PagedKvCache::kBlockTokens * kv_dim() *
         KvDtypeBytes(dtype);
}

KvBlockTable::KvBlockTable(KvBlockTable&& other) noexcept
    : cache_(std::exchange(other.cache_, nullptr)), blocks_(std::move(other.blocks_)) {
  other.blocks_.clear();
}

KvBlockTable& KvBlockTable::operator=(KvBlockTable&& other) noexcept {
  if (this != &other) {
    Release();
    cache_ = std::exchange(other.cache_, nullptr);
    blocks_ = std::move(other.blocks_);
    other.blocks_.clear();
  }
  return *this;
}

KvBlockTable::~KvBlockTable() { Release(); }

int KvBlockTable::capacity() const {
  return static_cast<int>(blocks_.size()) * PagedKvCache::kBlockTokens;
}

void KvBlockTable::Release() {
  // An empty table never touches its cache, which may already be gone.
  if (!blocks_.empty()) (void)cache_->Resize(*this, 0);  // shrinking always succeeds
}

PagedKvCache::PagedKvCache(const KvCacheShape& shape, int num_blocks, KvDtype dtype,
                           std::unique_ptr<KvStorage> storage)
    : shape_(shape),
      num_blocks_(std::max(num_blocks, 1)),
      dtype_(dtype),
      block_bytes_(kBlockTokens * shape.kv_dim() * KvDtypeBytes(dtype)),
      storage_(std::move(storage)) {
  free_.reserve(num_blocks_);
  // Pushed in reverse so that block 0 is handed out first.
  for (int b = num_blocks_ - 1; b >= 0; --b) free_.push_back(b);
}

PagedKvCache::PagedKvCache(const KvCacheShape& shape, int num_blocks, KvDtype dtype)
    : PagedKvCache(shape, num_blocks, dtype,
                   NewHostKvStorage(StorageBytes(shape, num_blocks, dtype))) {}

PagedKvCache::~PagedKvCache() = default;

std::size_t PagedKvCache::StorageBytes(const KvCacheShape& shape, int num_blocks, KvDtype dtype) {
  return static_cast<std::size_t>(std::max(num_blocks, 1)) * shape.BlockBytes(dtype);
}

void PagedKvCache::Write(int layer, std::int32_t block, int row, const float* keys,
                         const float* values) {
  const std::size_t row_elements = shape_.kv_dim();
  const std::size_t row_offset = row * row_elements * KvDtypeBytes(dtype_);
  storage_->StoreRow(dtype_, keys, row_elements, Offset(layer, block, 0) + row_offset);
  storage_->StoreRow(dtype_, values, row_elements, Offset(layer, block, 1) + row_offset);
}

int PagedKvCache::BlocksForCapacity(const KvCacheShape& shape, KvDtype dtype,
                                    std::int64_t capacity_mib) {
  const std::int64_t bytes = std::max<std::int64_t>(capacity_mib, 0) * 1024 * 1024;
  const auto block_bytes = static_cast<std::int64_t>(shape.BlockBytes(dtype));
  const std::int64_t blocks = block_bytes > 0 ? bytes / block_bytes : 1;
  return static_cast<int>(
      std::min<std::int64_t>(blocks, std::numeric_limits<int>::max() / kBlockTokens));
}

bool PagedKvCache::Resize(KvBlockTable& table, int tokens) {
  if (table.cache_ != nullptr && table.cache_ != this) return false;  // another pool's table
  const auto wanted = static_cast<std::size_t>(BlocksForTokens(std::max(tokens, 0)));
  std::vector<std::int32_t>& blocks = table.blocks_;
  if (wanted > blocks.size() && wanted - blocks.size() > free_.size()) return false;
  table.cache_ = this;
  while (blocks.size() < wanted) {
    blocks.push_back(free_.back());
    free_.pop_back();
  }
  while (blocks.size() > wanted) {
    free_.push_back(blocks.back());
    blocks.pop_back();
  }
  return true;
}

}  // namespace ghost
