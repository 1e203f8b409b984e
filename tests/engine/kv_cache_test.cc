#include "engine/backend/kv_cache.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/matmul.h"

namespace ghost {
namespace {

constexpr KvCacheShape kShape{/*num_layers=*/2, /*num_kv_heads=*/2, /*head_dim=*/8};

TEST(KvCacheTest, BlockCountFromCapacity) {
  // 2 (K, V) * 2 layers * 16 positions * 16 values * 4 bytes (fp32) or 2 (bf16).
  EXPECT_EQ(kShape.BlockBytes(KvDtype::kF32), 4096u);
  EXPECT_EQ(kShape.BlockBytes(KvDtype::kBf16), 2048u);
  EXPECT_EQ(PagedKvCache::BlocksForCapacity(kShape, KvDtype::kF32, 1), 256);
  EXPECT_EQ(PagedKvCache::BlocksForCapacity(kShape, KvDtype::kBf16, 1), 512);
  // TinyLlama-1.1B: 22 layers, 4 kv heads of 64: 704 KiB a block in fp32, 372 blocks in
  // 256 MiB; 352 KiB in bf16, 744 blocks.
  const KvCacheShape tinyllama{22, 4, 64};
  EXPECT_EQ(tinyllama.BlockBytes(KvDtype::kF32), 720896u);
  EXPECT_EQ(PagedKvCache::BlocksForCapacity(tinyllama, KvDtype::kF32, 256), 372);
  EXPECT_EQ(PagedKvCache::BlocksForCapacity(tinyllama, KvDtype::kBf16, 256), 744);
  // The budget alone decides (issue 16: a 2^24-token context grew the pool until the load
  // aborted): 1 MiB holds one block, whatever the context; 0 MiB none.
  EXPECT_EQ(PagedKvCache::BlocksForCapacity(tinyllama, KvDtype::kF32, 1), 1);
  EXPECT_EQ(PagedKvCache::BlocksForCapacity(tinyllama, KvDtype::kF32, 0), 0);
  // Never more than an int's worth of positions.
  EXPECT_EQ(PagedKvCache::BlocksForCapacity(kShape, KvDtype::kBf16, std::int64_t{1} << 40),
            std::numeric_limits<int>::max() / PagedKvCache::kBlockTokens);
  EXPECT_EQ(PagedKvCache::BlocksForTokens(0), 0);
  EXPECT_EQ(PagedKvCache::BlocksForTokens(1), 1);
  EXPECT_EQ(PagedKvCache::BlocksForTokens(16), 1);
  EXPECT_EQ(PagedKvCache::BlocksForTokens(17), 2);
}

TEST(KvCacheTest, ResizeAllocatesAndFrees) {
  PagedKvCache cache(kShape, 4, KvDtype::kF32);
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
  PagedKvCache cache(kShape, 8, KvDtype::kBf16);
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
  PagedKvCache other(kShape, 2, KvDtype::kBf16);
  KvBlockTable table;
  ASSERT_TRUE(other.Resize(table, 1));
  EXPECT_FALSE(cache.Resize(table, 1));
  EXPECT_FALSE(table.IsFrom(cache));
  EXPECT_TRUE(table.IsFrom(other));
}

// Every (layer, block, row) holds its own keys and values, stored as the cache's dtype: fp32
// exactly, bf16 rounded to nearest even.
TEST(KvCacheTest, WritesLandInSeparateRowsOfTheDtype) {
  const std::size_t kv_dim = kShape.kv_dim();
  const auto row_of = [&](int layer, int block, int row, int kind) {
    std::vector<float> values(kv_dim);
    for (std::size_t i = 0; i < kv_dim; ++i) {
      values[i] = 1000.0f * layer + 100.0f * block + 2.0f * row + kind + 0.001f * i;
    }
    return values;
  };
  for (KvDtype dtype : {KvDtype::kF32, KvDtype::kBf16}) {
    PagedKvCache cache(kShape, 3, dtype);
    EXPECT_EQ(cache.dtype(), dtype);
    for (int layer = 0; layer < kShape.num_layers; ++layer) {
      for (int block = 0; block < 3; ++block) {
        for (int row = 0; row < PagedKvCache::kBlockTokens; ++row) {
          cache.Write(layer, block, row, row_of(layer, block, row, 0).data(),
                      row_of(layer, block, row, 1).data());
        }
      }
    }
    for (int layer = 0; layer < kShape.num_layers; ++layer) {
      for (int block = 0; block < 3; ++block) {
        for (int row = 0; row < PagedKvCache::kBlockTokens; ++row) {
          for (int kind = 0; kind < 2; ++kind) {
            const void* stored = kind == 0 ? cache.keys(layer, block) : cache.values(layer, block);
            const std::vector<float> want = row_of(layer, block, row, kind);
            for (std::size_t i = 0; i < kv_dim; ++i) {
              const std::size_t at = row * kv_dim + i;
              if (dtype == KvDtype::kF32) {
                ASSERT_EQ(static_cast<const float*>(stored)[at], want[i]);
              } else {
                ASSERT_EQ(static_cast<const std::uint16_t*>(stored)[at],
                          kernels::F32ToBf16(want[i]));
              }
            }
          }
        }
      }
    }
  }
}

TEST(KvCacheTest, ParsesDtypeNames) {
  EXPECT_EQ(*ParseKvDtype("fp32"), KvDtype::kF32);
  EXPECT_EQ(*ParseKvDtype("bf16"), KvDtype::kBf16);
  const absl::StatusOr<KvDtype> bad = ParseKvDtype("fp16");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "KV cache dtype must be fp32 or bf16, got \"fp16\"");
}

}  // namespace
}  // namespace ghost
