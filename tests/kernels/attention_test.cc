// Paged attention: the scalar reference against a float64 softmax attention written out
// plainly, and every other variant this CPU supports against the scalar one, on fresh random
// caches whose blocks sit scattered in memory, stored as fp32 and as bf16. The transposed
// AVX-512 variant is held to the same bound; head sizes it does not specialise fall back to
// AVX-512's tile.
#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/matmul.h"

namespace ghost::kernels {
namespace {

struct Case {
  std::size_t num_heads;
  std::size_t num_kv_heads;
  std::size_t head_dim;
  std::size_t first;  // cached positions before the new ones
  std::size_t n;      // new positions
  std::size_t window;
  std::size_t block_tokens;

  std::string Name() const {
    return "heads=" + std::to_string(num_heads) + "/" + std::to_string(num_kv_heads) +
           " head_dim=" + std::to_string(head_dim) + " first=" + std::to_string(first) +
           " n=" + std::to_string(n) + " window=" + std::to_string(window) +
           " block=" + std::to_string(block_tokens);
  }
};

// A random cache of first + n positions whose blocks are allocated in shuffled order, with a
// spare block's worth of NaN between them: reading outside a row's own block shows. For bf16
// the values are rounded to bf16 first, so that key_floats / value_floats hold exactly what the
// kernels read and the float64 reference needs no looser bound.
struct Cache {
  std::vector<std::vector<float>> storage;
  std::vector<std::vector<std::uint16_t>> bf16_storage;  // storage rounded, for kBf16
  std::vector<const float*> key_floats, value_floats;
  std::vector<const void*> key_blocks, value_blocks;
  PagedKvBlocks view;
};

Cache RandomCache(const Case& c, KvDtype dtype, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const std::size_t positions = c.first + c.n;
  const std::size_t blocks = (positions + c.block_tokens - 1) / c.block_tokens;
  const std::size_t block_floats = c.block_tokens * c.num_kv_heads * c.head_dim;
  Cache cache;
  cache.storage.resize(2 * blocks);
  for (auto& block : cache.storage) {
    block.assign(3 * block_floats, std::numeric_limits<float>::quiet_NaN());
    for (std::size_t i = block_floats; i < 2 * block_floats; ++i) {
      block[i] = dtype == KvDtype::kBf16 ? Bf16ToF32(F32ToBf16(normal(rng))) : normal(rng);
    }
    if (dtype == KvDtype::kBf16) {
      std::vector<std::uint16_t>& bf16 = cache.bf16_storage.emplace_back(block.size());
      for (std::size_t i = 0; i < block.size(); ++i) bf16[i] = F32ToBf16(block[i]);
    }
  }
  std::vector<std::size_t> order(2 * blocks);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  const auto stored = [&](std::size_t i) -> const void* {
    if (dtype == KvDtype::kBf16) return cache.bf16_storage[i].data() + block_floats;
    return cache.storage[i].data() + block_floats;
  };
  for (std::size_t b = 0; b < blocks; ++b) {
    cache.key_floats.push_back(cache.storage[order[2 * b]].data() + block_floats);
    cache.value_floats.push_back(cache.storage[order[2 * b + 1]].data() + block_floats);
    cache.key_blocks.push_back(stored(order[2 * b]));
    cache.value_blocks.push_back(stored(order[2 * b + 1]));
  }
  cache.view = {cache.key_blocks.data(), cache.value_blocks.data(), c.block_tokens, dtype};
  return cache;
}

// Softmax attention in float64, one query head and position at a time.
std::vector<float> Exact(const Case& c, const std::vector<float>& q, const Cache& cache) {
  const std::size_t group = c.num_heads / c.num_kv_heads;
  const std::size_t q_stride = c.num_heads * c.head_dim;
  const std::size_t kv_stride = c.num_kv_heads * c.head_dim;
  std::vector<float> out(c.n * q_stride);
  for (std::size_t t = 0; t < c.n; ++t) {
    const std::size_t end = c.first + t + 1;
    const std::size_t begin = c.window > 0 && end > c.window ? end - c.window : 0;
    for (std::size_t h = 0; h < c.num_heads; ++h) {
      const float* query = &q[t * q_stride + h * c.head_dim];
      const std::size_t offset = h / group * c.head_dim;
      std::vector<double> scores;
      for (std::size_t s = begin; s < end; ++s) {
        const float* key =
            cache.key_floats[s / c.block_tokens] + s % c.block_tokens * kv_stride + offset;
        double dot = 0;
        for (std::size_t d = 0; d < c.head_dim; ++d) dot += double{query[d]} * key[d];
        scores.push_back(dot / std::sqrt(static_cast<double>(c.head_dim)));
      }
      const double max = *std::max_element(scores.begin(), scores.end());
      double total = 0;
      for (double& score : scores) total += score = std::exp(score - max);
      for (std::size_t d = 0; d < c.head_dim; ++d) {
        double sum = 0;
        for (std::size_t s = begin; s < end; ++s) {
          const float* value =
              cache.value_floats[s / c.block_tokens] + s % c.block_tokens * kv_stride + offset;
          sum += scores[s - begin] * value[d];
        }
        out[t * q_stride + h * c.head_dim + d] = static_cast<float>(sum / total);
      }
    }
  }
  return out;
}

// Every variant but the scalar reference.
constexpr AttentionIsa kOptimizedIsas[] = {AttentionIsa::kAvx2, AttentionIsa::kAvx512,
                                           AttentionIsa::kAvx512Transposed};

std::vector<float> RunVariant(AttentionIsa isa, const Case& c, const std::vector<float>& q,
                              const Cache& cache) {
  // NaN shows an output the kernel never wrote.
  std::vector<float> out(q.size(), std::numeric_limits<float>::quiet_NaN());
  const AttentionDims dims{c.num_heads, c.num_kv_heads, c.head_dim, c.window};
  PagedAttentionIsa(isa, dims, q.data(), c.n, c.first, cache.view, out.data());
  return out;
}

// Outputs are convex combinations of N(0, 1) values, so an absolute bound fits them all.
void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, float bound,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  int failures = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!(std::fabs(got[i] - want[i]) <= bound) && ++failures <= 5) {
      ADD_FAILURE() << what << " [" << i << "]: got " << got[i] << ", want " << want[i];
    }
  }
  EXPECT_EQ(failures, 0) << what;
}

// Every case with each cache dtype: the bounds are the same, since a bf16 cache is exact
// values that the kernels widen exactly.
void Check(const Case& c) {
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (KvDtype dtype : {KvDtype::kF32, KvDtype::kBf16}) {
    const Cache cache = RandomCache(c, dtype, rng);
    std::vector<float> q(c.n * c.num_heads * c.head_dim);
    for (float& v : q) v = normal(rng);
    const std::string name = std::string(KvDtypeName(dtype)) + " cache " + c.Name();
    const std::vector<float> reference = RunVariant(AttentionIsa::kScalar, c, q, cache);
    ExpectClose(reference, Exact(c, q, cache), 2e-5f, "scalar vs float64, " + name);
    for (AttentionIsa isa : kOptimizedIsas) {
      if (!AttentionIsaSupported(isa)) continue;
      ExpectClose(RunVariant(isa, c, q, cache), reference, 1e-5f,
                  std::string(AttentionIsaName(isa)) + ", " + name);
    }
  }
}

// 64 and 128 are the sizes the variants specialise; 80, 72, 96 and 32 take their general code
// (the transposed variant AVX-512's).
TEST(PagedAttentionTest, DecodeOverBlockBoundaries) {
  for (std::size_t head_dim : {64, 128, 80, 72, 96, 32}) {
    for (std::size_t group : {1, 4, 8}) {
      for (std::size_t first : {0, 15, 16, 17, 63, 300}) {
        Check({2 * group, 2, head_dim, first, 1, 0, 16});
      }
    }
  }
}

TEST(PagedAttentionTest, PrefillChunks) {
  for (std::size_t head_dim : {64, 80}) {
    for (std::size_t group : {1, 4, 8}) {
      Check({2 * group, 2, head_dim, 0, 37, 0, 16});
      Check({2 * group, 2, head_dim, 21, 5, 0, 16});
      Check({2 * group, 2, head_dim, 40, 70, 0, 16});
    }
  }
}

TEST(PagedAttentionTest, SlidingWindow) {
  for (std::size_t group : {1, 4, 8}) {
    for (std::size_t first : {0, 5, 19, 20, 21, 100}) {
      Check({2 * group, 2, 64, first, 1, 20, 16});
      Check({2 * group, 2, 64, first, 13, 20, 16});
    }
    Check({group, 1, 128, 200, 40, 33, 16});
  }
}

// Too short to split the keys, long enough to split a decode step's kv heads across the pool
// (TinyLlama's shape among them).
TEST(PagedAttentionTest, ShortContextDecodeSplitsKvHeads) {
  for (std::size_t first : {15, 47, 130, 255}) {
    Check({32, 4, 64, first, 1, 0, 16});
    Check({12, 3, 64, first, 1, 0, 16});
    Check({8, 2, 128, first, 1, 40, 16});
  }
}

// Long enough for a decode step to split its keys across the thread pool and merge.
TEST(PagedAttentionTest, LongContextDecode) {
  for (std::size_t group : {1, 4, 8}) {
    Check({4 * group, 4, 64, 1500, 1, 0, 16});
    Check({2 * group, 2, 80, 777, 1, 0, 16});
    Check({2 * group, 2, 64, 1000, 1, 100, 16});  // splits the window does not reach
    Check({2 * group, 2, 64, 1000, 2, 600, 16});
  }
}

// Groups that are no multiple of the 4 heads accumulated together, many heads per kv head, and
// blocks whose size is no power of two.
TEST(PagedAttentionTest, AwkwardShapes) {
  Check({12, 4, 64, 30, 3, 0, 16});
  Check({12, 2, 64, 40, 5, 0, 16});
  Check({32, 1, 64, 50, 1, 0, 16});
  Check({32, 1, 80, 9, 3, 7, 16});
  Check({6, 2, 6, 17, 4, 0, 5});
  Check({3, 3, 2, 0, 1, 0, 1});
}

// The default is the fastest variant the CPU has: the transposed one with AVX-512, and otherwise
// (AVX2-only and older CPUs) the one matmul's dispatch chose.
TEST(PagedAttentionTest, DetectedIsaIsTheBestSupported) {
  const AttentionIsa detected = DetectedAttentionIsa();
  EXPECT_TRUE(AttentionIsaSupported(detected));
  EXPECT_EQ(AttentionIsaSupported(AttentionIsa::kAvx512Transposed),
            AttentionIsaSupported(AttentionIsa::kAvx512));
  if (AttentionIsaSupported(AttentionIsa::kAvx512Transposed)) {
    EXPECT_EQ(detected, AttentionIsa::kAvx512Transposed);
  } else {
    EXPECT_EQ(static_cast<int>(detected), static_cast<int>(DetectedIsa()));
  }
  EXPECT_STREQ(AttentionIsaName(AttentionIsa::kAvx512Transposed), "avx512-transposed");
  EXPECT_STREQ(AttentionIsaName(AttentionIsa::kAvx512), IsaName(CpuIsa::kAvx512));
}

TEST(PagedAttentionTest, DefaultEntryPointUsesDetectedIsa) {
  const Case c{16, 2, 64, 77, 3, 0, 16};
  std::mt19937 rng(std::random_device{}());
  for (KvDtype dtype : {KvDtype::kF32, KvDtype::kBf16}) {
    const Cache cache = RandomCache(c, dtype, rng);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> q(c.n * c.num_heads * c.head_dim);
    for (float& v : q) v = normal(rng);
    std::vector<float> out(q.size());
    PagedAttention({c.num_heads, c.num_kv_heads, c.head_dim, c.window}, q.data(), c.n, c.first,
                   cache.view, out.data());
    EXPECT_EQ(out, RunVariant(DetectedAttentionIsa(), c, q, cache)) << KvDtypeName(dtype);
  }
}

// The same values stored as fp32 and as bf16 (exactly representable in both) give the same
// attention: the bf16 path widens, it does not approximate. The transposed variant runs its own
// tile on the bf16 cache and AVX-512's on the fp32 one: equal within the tests' bound.
void CheckBf16MatchesF32(AttentionIsa isa, const Case& c) {
  std::mt19937 rng(7);
  const Cache bf16 = RandomCache(c, KvDtype::kBf16, rng);
  Cache f32 = bf16;  // the same rounded floats, read as fp32
  f32.key_blocks.assign(f32.key_floats.begin(), f32.key_floats.end());
  f32.value_blocks.assign(f32.value_floats.begin(), f32.value_floats.end());
  f32.view = {f32.key_blocks.data(), f32.value_blocks.data(), c.block_tokens, KvDtype::kF32};
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> q(c.n * c.num_heads * c.head_dim);
  for (float& v : q) v = normal(rng);
  const std::string name = std::string(AttentionIsaName(isa)) + ", " + c.Name();
  if (isa == AttentionIsa::kAvx512Transposed) {
    ExpectClose(RunVariant(isa, c, q, bf16), RunVariant(isa, c, q, f32), 1e-5f, name);
  } else {
    EXPECT_EQ(RunVariant(isa, c, q, bf16), RunVariant(isa, c, q, f32)) << name;
  }
}

TEST(PagedAttentionTest, Bf16CacheOfExactValuesMatchesF32) {
  for (const Case& c : {Case{8, 2, 72, 45, 3, 20, 16}, Case{8, 2, 64, 45, 3, 20, 16}}) {
    for (AttentionIsa isa : {AttentionIsa::kScalar, AttentionIsa::kAvx2, AttentionIsa::kAvx512,
                             AttentionIsa::kAvx512Transposed}) {
      if (AttentionIsaSupported(isa)) CheckBf16MatchesF32(isa, c);
    }
  }
}

// A step of several sequences in one batched call (short and long decodes, a prefill chunk, a
// sequence with nothing new) gives each the output of its own call, for every variant: the
// batch splits the work of all of them across the pool, keys of long decodes included.
TEST(PagedAttentionTest, BatchMatchesOneCallPerSequence) {
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const std::vector<Case> cases = {{32, 4, 64, 2000, 1, 0, 16}, {32, 4, 64, 40, 1, 0, 16},
                                   {32, 4, 64, 700, 1, 0, 16},  {32, 4, 64, 90, 37, 0, 16},
                                   {32, 4, 64, 10, 0, 0, 16},   {32, 4, 64, 1200, 1, 0, 16}};
  for (KvDtype dtype : {KvDtype::kF32, KvDtype::kBf16}) {
    std::vector<Cache> caches;
    std::vector<std::vector<float>> queries;
    for (const Case& c : cases) {
      caches.push_back(RandomCache(c, dtype, rng));
      queries.emplace_back(c.n * c.num_heads * c.head_dim);
      for (float& v : queries.back()) v = normal(rng);
    }
    for (AttentionIsa isa : {AttentionIsa::kScalar, AttentionIsa::kAvx2, AttentionIsa::kAvx512,
                             AttentionIsa::kAvx512Transposed}) {
      if (!AttentionIsaSupported(isa)) continue;
      std::vector<std::vector<float>> outs;
      std::vector<AttentionSequence> sequences;
      for (std::size_t i = 0; i < cases.size(); ++i) {
        outs.emplace_back(queries[i].size(), std::numeric_limits<float>::quiet_NaN());
        sequences.push_back(
            {queries[i].data(), cases[i].n, cases[i].first, caches[i].view, outs[i].data()});
      }
      PagedAttentionBatchIsa(isa, {32, 4, 64, 0}, sequences.data(), sequences.size());
      for (std::size_t i = 0; i < cases.size(); ++i) {
        ExpectClose(outs[i], RunVariant(isa, cases[i], queries[i], caches[i]), 1e-5f,
                    std::string(AttentionIsaName(isa)) + " batch, " + KvDtypeName(dtype) +
                        " cache " + cases[i].Name());
      }
    }
  }
}

}  // namespace
}  // namespace ghost::kernels
