// The CUDA rotary embedding + paged KV store and paged attention (kernels/cuda/paged_kv.h)
// against the CPU scalar kernels (RopeQk, StoreKvRow, PagedAttentionIsa(kScalar)), on steps of
// several sequences whose block tables are shuffled, fp32 and bf16 caches, decode, prefill and
// chunked prefill past the kernel's 256-position chunk, GQA and sliding windows. Skips without a
// CUDA device.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/kv_dtype.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cuda/paged_kv.h"
#include "tests/kernels/cuda_test_util.h"

namespace ghost::kernels::cuda {
namespace {

using testing::MaxRelativeError;
using testing::Normal;
using testing::ToDevice;
using testing::ToHost;

constexpr int kBlockTokens = 16;

struct Sequence {
  int first;  // cached positions
  int n;      // new positions this step
};

struct Case {
  AttentionHeads heads;
  std::vector<Sequence> sequences;
  bool bf16;

  std::string Name() const {
    std::string name =
        "heads=" + std::to_string(heads.num_heads) + "/" + std::to_string(heads.num_kv_heads) +
        " dim=" + std::to_string(heads.head_dim) +
        " window=" + std::to_string(heads.sliding_window) + (bf16 ? " bf16" : " fp32");
    for (const Sequence& s : sequences) {
      name += " [" + std::to_string(s.first) + "+" + std::to_string(s.n) + "]";
    }
    return name;
  }
};

// Cache bytes as floats.
std::vector<float> Widen(const std::vector<std::byte>& bytes, bool bf16) {
  std::vector<float> values(bytes.size() / (bf16 ? 2 : 4));
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (bf16) {
      std::uint16_t bits;
      std::memcpy(&bits, bytes.data() + 2 * i, 2);
      values[i] = Bf16ToF32(bits);
    } else {
      std::memcpy(&values[i], bytes.data() + 4 * i, 4);
    }
  }
  return values;
}

void RunCase(const Case& c, std::mt19937& rng) {
  SCOPED_TRACE(c.Name());
  const AttentionHeads& h = c.heads;
  const std::size_t kv_dim = static_cast<std::size_t>(h.num_kv_heads) * h.head_dim;
  const std::size_t q_dim = static_cast<std::size_t>(h.num_heads) * h.head_dim;
  const std::size_t half = h.head_dim / 2;
  const KvDtype dtype = c.bf16 ? KvDtype::kBf16 : KvDtype::kF32;
  const std::size_t element = KvDtypeBytes(dtype);
  const std::size_t block_bytes = kBlockTokens * kv_dim * element;  // one block's K (or V)

  // Block tables: every sequence's blocks drawn from one shuffled pool.
  int total_blocks = 0;
  for (const Sequence& s : c.sequences)
    total_blocks += (s.first + s.n + kBlockTokens - 1) / kBlockTokens;
  std::vector<std::int32_t> pool(total_blocks);
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), rng);
  // Storage: [block][K|V][rows], as engine/backend/kv_cache.h lays out one layer.
  std::vector<std::byte> cache(static_cast<std::size_t>(total_blocks) * 2 * block_bytes);
  std::vector<std::int32_t> blocks;
  std::vector<StepToken> tokens;
  std::size_t n = 0;
  for (const Sequence& s : c.sequences) {
    const auto offset = static_cast<std::int32_t>(blocks.size());
    const int count = (s.first + s.n + kBlockTokens - 1) / kBlockTokens;
    blocks.insert(blocks.end(), pool.begin() + offset, pool.begin() + offset + count);
    for (int t = 0; t < s.n; ++t) tokens.push_back({s.first + t, offset});
    n += s.n;
    // The cached positions, random (as earlier steps would have stored them).
    for (int p = 0; p < s.first; ++p) {
      const std::size_t block = static_cast<std::size_t>(blocks[offset + p / kBlockTokens]);
      for (int kind = 0; kind < 2; ++kind) {
        const std::vector<float> row = Normal(kv_dim, rng);
        StoreKvRow(dtype, row.data(), kv_dim,
                   cache.data() + (2 * block + kind) * block_bytes +
                       (p % kBlockTokens) * kv_dim * element);
      }
    }
  }
  std::vector<float> q = Normal(n * q_dim, rng), k = Normal(n * kv_dim, rng),
                     v = Normal(n * kv_dim, rng), cos(n * half), sin(n * half);
  for (std::size_t t = 0; t < n; ++t) {
    for (std::size_t i = 0; i < half; ++i) {
      const double angle = tokens[t].position * std::pow(10000.0, -2.0 * i / h.head_dim);
      cos[t * half + i] = static_cast<float>(std::cos(angle));
      sin[t * half + i] = static_cast<float>(std::sin(angle));
    }
  }

  // The device: upload, rotate and store, attend.
  DeviceBuffer dcache = ToDevice(cache), dq = ToDevice(q), dk = ToDevice(k), dv = ToDevice(v),
               dcos = ToDevice(cos), dsin = ToDevice(sin), dtokens = ToDevice(tokens),
               dblocks = ToDevice(blocks), dout = ToDevice(std::vector<float>(n * q_dim));
  DeviceKvLayer layer;
  layer.keys = dcache.data();
  layer.values = dcache.as<std::byte>() + block_bytes;
  layer.block_stride = 2 * block_bytes;
  layer.block_tokens = kBlockTokens;
  layer.bf16 = c.bf16;
  ASSERT_TRUE(RopeAndStoreKv(h, dcos.as<float>(), dsin.as<float>(), dtokens.as<StepToken>(),
                             dblocks.as<std::int32_t>(), n, dq.as<float>(), dk.as<float>(),
                             dv.as<float>(), layer, nullptr)
                  .ok());
  ASSERT_TRUE(PagedAttention(h, dq.as<float>(), dtokens.as<StepToken>(), dblocks.as<std::int32_t>(),
                             n, layer, dout.as<float>(), nullptr)
                  .ok());

  // The CPU reference: the same rotation and stores, then attention per sequence.
  const ElementwiseKernels& scalar = ElementwiseKernelsFor(CpuIsa::kScalar);
  for (std::size_t t = 0; t < n; ++t) {
    scalar.rope_qk(q.data() + t * q_dim, h.num_heads, k.data() + t * kv_dim, h.num_kv_heads,
                   h.head_dim, cos.data() + t * half, sin.data() + t * half);
    const int p = tokens[t].position;
    const std::size_t block =
        static_cast<std::size_t>(blocks[tokens[t].blocks_offset + p / kBlockTokens]);
    const std::size_t row = (p % kBlockTokens) * kv_dim * element;
    StoreKvRow(dtype, k.data() + t * kv_dim, kv_dim, cache.data() + 2 * block * block_bytes + row);
    StoreKvRow(dtype, v.data() + t * kv_dim, kv_dim,
               cache.data() + (2 * block + 1) * block_bytes + row);
  }
  EXPECT_LT(MaxRelativeError(ToHost<float>(dq.data(), n * q_dim), q, 1e-3), 1e-5);
  EXPECT_LT(MaxRelativeError(ToHost<float>(dk.data(), n * kv_dim), k, 1e-3), 1e-5);
  // The stored keys and values: fp32 within rounding of the rotation (the device fuses
  // multiply-adds), bf16 within one unit in the last place.
  EXPECT_LT(MaxRelativeError(Widen(ToHost<std::byte>(dcache.data(), cache.size()), c.bf16),
                             Widen(cache, c.bf16), 1e-3),
            c.bf16 ? 1e-2 : 1e-5);

  std::vector<float> want(n * q_dim);
  const AttentionDims dims{
      static_cast<std::size_t>(h.num_heads), static_cast<std::size_t>(h.num_kv_heads),
      static_cast<std::size_t>(h.head_dim), static_cast<std::size_t>(h.sliding_window)};
  std::size_t row = 0;
  for (const Sequence& s : c.sequences) {
    const std::int32_t offset = tokens[row].blocks_offset;
    std::vector<const void*> keys, values;
    for (int b = 0; b < (s.first + s.n + kBlockTokens - 1) / kBlockTokens; ++b) {
      const std::size_t block = static_cast<std::size_t>(blocks[offset + b]);
      keys.push_back(cache.data() + 2 * block * block_bytes);
      values.push_back(cache.data() + (2 * block + 1) * block_bytes);
    }
    const PagedKvBlocks view{keys.data(), values.data(), kBlockTokens,
                             c.bf16 ? kernels::KvDtype::kBf16 : kernels::KvDtype::kF32};
    PagedAttentionIsa(AttentionIsa::kScalar, dims, q.data() + row * q_dim, s.n, s.first, view,
                      want.data() + row * q_dim);
    row += s.n;
  }
  EXPECT_LT(MaxRelativeError(ToHost<float>(dout.data(), n * q_dim), want, 1e-2), 1e-4);
}

TEST(CudaAttentionTest, RopeStoreAndAttentionMatchCpu) {
  GHOST_SKIP_WITHOUT_CUDA_DEVICE();
  std::mt19937 rng(1);
  const std::vector<Case> cases = {
      {{4, 2, 8, 0}, {{40, 1}}, false},                    // decode
      {{4, 2, 8, 0}, {{0, 37}}, true},                     // prefill
      {{8, 1, 64, 0}, {{20, 300}, {3, 1}, {0, 5}}, true},  // chunked prefill + decodes
      {{6, 3, 128, 5}, {{30, 9}, {100, 1}}, false},        // sliding window
      {{2, 2, 256, 0}, {{511, 1}, {17, 16}}, true},        // wide heads, long decode
      {{32, 8, 128, 4096}, {{700, 2}}, true},              // Llama-3-8B heads
  };
  for (const Case& c : cases) RunCase(c, rng);
}

TEST(CudaAttentionTest, UnsupportedHeadsAreInvalidArgument) {
  GHOST_SKIP_WITHOUT_CUDA_DEVICE();
  const DeviceKvLayer layer;
  EXPECT_EQ(
      PagedAttention({4, 3, 8, 0}, nullptr, nullptr, nullptr, 1, layer, nullptr, nullptr).code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      PagedAttention({4, 4, 1024, 0}, nullptr, nullptr, nullptr, 1, layer, nullptr, nullptr).code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ghost::kernels::cuda
