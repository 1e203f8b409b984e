// Paged attention: the scalar reference against a float64 softmax attention written out
// plainly, and every other variant this CPU supports against the scalar one, on fresh random
// caches whose blocks sit scattered in memory.
#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

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
// spare block's worth of NaN between them: reading outside a row's own block shows.
struct Cache {
  std::vector<std::vector<float>> storage;
  std::vector<const float*> key_blocks, value_blocks;
  PagedKvBlocks view;
};

Cache RandomCache(const Case& c, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const std::size_t positions = c.first + c.n;
  const std::size_t blocks = (positions + c.block_tokens - 1) / c.block_tokens;
  const std::size_t block_floats = c.block_tokens * c.num_kv_heads * c.head_dim;
  Cache cache;
  cache.storage.resize(2 * blocks);
  for (auto& block : cache.storage) {
    block.assign(3 * block_floats, std::numeric_limits<float>::quiet_NaN());
    for (std::size_t i = block_floats; i < 2 * block_floats; ++i) block[i] = normal(rng);
  }
  std::vector<std::size_t> order(2 * blocks);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  for (std::size_t b = 0; b < blocks; ++b) {
    cache.key_blocks.push_back(cache.storage[order[2 * b]].data() + block_floats);
    cache.value_blocks.push_back(cache.storage[order[2 * b + 1]].data() + block_floats);
  }
  cache.view = {cache.key_blocks.data(), cache.value_blocks.data(), c.block_tokens};
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
            cache.key_blocks[s / c.block_tokens] + s % c.block_tokens * kv_stride + offset;
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
              cache.value_blocks[s / c.block_tokens] + s % c.block_tokens * kv_stride + offset;
          sum += scores[s - begin] * value[d];
        }
        out[t * q_stride + h * c.head_dim + d] = static_cast<float>(sum / total);
      }
    }
  }
  return out;
}

std::vector<float> RunVariant(CpuIsa isa, const Case& c, const std::vector<float>& q,
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

void Check(const Case& c) {
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const Cache cache = RandomCache(c, rng);
  std::vector<float> q(c.n * c.num_heads * c.head_dim);
  for (float& v : q) v = normal(rng);
  const std::vector<float> reference = RunVariant(CpuIsa::kScalar, c, q, cache);
  ExpectClose(reference, Exact(c, q, cache), 2e-5f, "scalar vs float64 " + c.Name());
  for (CpuIsa isa : {CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    if (!IsaSupported(isa)) continue;
    ExpectClose(RunVariant(isa, c, q, cache), reference, 1e-5f,
                std::string(IsaName(isa)) + " " + c.Name());
  }
}

TEST(PagedAttentionTest, DecodeOverBlockBoundaries) {
  for (std::size_t head_dim : {64, 128, 80, 72}) {
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

TEST(PagedAttentionTest, DefaultEntryPointUsesDetectedIsa) {
  const Case c{16, 2, 64, 77, 3, 0, 16};
  std::mt19937 rng(std::random_device{}());
  const Cache cache = RandomCache(c, rng);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> q(c.n * c.num_heads * c.head_dim);
  for (float& v : q) v = normal(rng);
  std::vector<float> out(q.size());
  PagedAttention({c.num_heads, c.num_kv_heads, c.head_dim, c.window}, q.data(), c.n, c.first,
                 cache.view, out.data());
  EXPECT_EQ(out, RunVariant(DetectedIsa(), c, q, cache));
}

}  // namespace
}  // namespace ghost::kernels
