#include "engine/model/kv_cache.h"

#include <utility>

#include "gtest/gtest.h"

namespace ghost {
namespace {

constexpr KvCacheShape kShape{/*num_layers=*/2, /*num_kv_heads=*/2, /*head_dim=*/8};

TEST(KvCacheTest, BlockCountFromCapacity) {
  // 2 (K, V) * 2 layers * 16 positions * 16 floats * 4 bytes.
  EXPECT_EQ(kShape.BlockBytes(), 4096u);
  EXPECT_EQ(PagedKvCache::BlocksForCapacity(kShape, 1, 64), 256);
  // TinyLlama-1.1B: 22 layers, 4 kv heads of 64: 704 KiB a block, 372 blocks in 256 MiB.
  const KvCacheShape tinyllama{22, 4, 64};
  EXPECT_EQ(tinyllama.BlockBytes(), 720896u);
  EXPECT_EQ(PagedKvCache::BlocksForCapacity(tinyllama, 256, 2048), 372);
  // Clamped to one full context: 1 MiB holds one block, the context needs 128.
  EXPECT_EQ(PagedKvCache::BlocksForCapacity(tinyllama, 1, 2048), 128);
  EXPECT_EQ(PagedKvCache::BlocksForTokens(0), 0);
  EXPECT_EQ(PagedKvCache::BlocksForTokens(1), 1);
  EXPECT_EQ(PagedKvCache::BlocksForTokens(16), 1);
  EXPECT_EQ(PagedKvCache::BlocksForTokens(17), 2);
}

TEST(KvCacheTest, ResizeAllocatesAndFrees) {
  PagedKvCache cache(kShape, 4);
  EXPECT_EQ(cache.num_blocks(), 4);
  EXPECT_EQ(cache.token_capacity(), 64);
  EXPECT_EQ(cache.blocks_in_use(), 0);
  EXPECT_DOUBLE_EQ(cache.usage_ratio(), 0.0);

  KvBlockTable a, b;
  ASSERT_TRUE(cache.Resize(a, 17));  // two blocks
  EXPECT_EQ(a.blocks().size(), 2u);
  EXPECT_EQ(a.capacity(), 32);
  ASSERT_TRUE(cache.Resize(a, 32));  // still two
  EXPECT_EQ(cache.blocks_in_use(), 2);
  EXPECT_DOUBLE_EQ(cache.usage_ratio(), 0.5);

  ASSERT_TRUE(cache.Resize(b, 20));
  EXPECT_EQ(cache.free_blocks(), 0);
  EXPECT_DOUBLE_EQ(cache.usage_ratio(), 1.0);
  // Blocks are never shared between tables.
  for (std::int32_t block : a.blocks()) {
    for (std::int32_t other : b.blocks()) EXPECT_NE(block, other);
  }

  // Too few free blocks: refused, table unchanged.
  EXPECT_FALSE(cache.Resize(a, 33));
  EXPECT_EQ(a.blocks().size(), 2u);
  EXPECT_EQ(cache.blocks_in_use(), 4);

  // Shrinking returns blocks; then the grow succeeds.
  ASSERT_TRUE(cache.Resize(b, 0));
  EXPECT_TRUE(b.blocks().empty());
  EXPECT_EQ(cache.blocks_in_use(), 2);
  ASSERT_TRUE(cache.Resize(a, 64));
  EXPECT_EQ(cache.blocks_in_use(), 4);
  ASSERT_TRUE(cache.Resize(a, 1));
  EXPECT_EQ(cache.blocks_in_use(), 1);
}

TEST(KvCacheTest, TablesReturnTheirBlocksWhenDestroyedOrMoved) {
  PagedKvCache cache(kShape, 8);
  {
    KvBlockTable table;
    ASSERT_TRUE(cache.Resize(table, 40));
    EXPECT_EQ(cache.blocks_in_use(), 3);
    KvBlockTable moved(std::move(table));
    EXPECT_EQ(cache.blocks_in_use(), 3);
    EXPECT_EQ(moved.blocks().size(), 3u);
    KvBlockTable assigned;
    ASSERT_TRUE(cache.Resize(assigned, 16));
    EXPECT_EQ(cache.blocks_in_use(), 4);
    assigned = std::move(moved);  // the assigned-over table's block goes back
    EXPECT_EQ(cache.blocks_in_use(), 3);
    EXPECT_EQ(assigned.blocks().size(), 3u);
  }
  EXPECT_EQ(cache.blocks_in_use(), 0);

  // A table of another pool is refused.
  PagedKvCache other(kShape, 2);
  KvBlockTable table;
  ASSERT_TRUE(other.Resize(table, 1));
  EXPECT_FALSE(cache.Resize(table, 1));
  EXPECT_FALSE(table.IsFrom(cache));
  EXPECT_TRUE(table.IsFrom(other));
}

TEST(KvCacheTest, BlocksHoldSeparateMemory) {
  PagedKvCache cache(kShape, 3);
  const std::size_t floats = PagedKvCache::kBlockTokens * kShape.kv_dim();
  for (int layer = 0; layer < kShape.num_layers; ++layer) {
    for (int block = 0; block < 3; ++block) {
      for (std::size_t i = 0; i < floats; ++i) {
        cache.keys(layer, block)[i] = static_cast<float>(layer * 1000 + block * 10 + 1);
        cache.values(layer, block)[i] = static_cast<float>(layer * 1000 + block * 10 + 2);
      }
    }
  }
  for (int layer = 0; layer < kShape.num_layers; ++layer) {
    for (int block = 0; block < 3; ++block) {
      EXPECT_EQ(cache.keys(layer, block)[0], layer * 1000 + block * 10 + 1);
      EXPECT_EQ(cache.keys(layer, block)[floats - 1], layer * 1000 + block * 10 + 1);
      EXPECT_EQ(cache.values(layer, block)[floats - 1], layer * 1000 + block * 10 + 2);
    }
  }
}

}  // namespace
}  // namespace ghost
