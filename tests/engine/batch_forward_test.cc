// The batched forward over the paged KV cache (ModelRunner) against one sequence at a time.
// Tolerance: max |batched - alone| <= 1e-5 * max |alone|. Both run the same fp32 kernels; the
// rows differ only where the kernels' tiling and threading change the summation order with the
// number of stacked tokens, which moves results by a few ulps (logits are O(1) here).
#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "engine/backend/kv_cache.h"
#include "engine/model/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using ::ghost::testing::TinyLlamaSpec;
using ::testing::HasSubstr;

constexpr double kTolerance = 1e-5;

std::vector<std::int32_t> SomeTokens(int count, int vocab, int salt) {
  std::vector<std::int32_t> tokens;
  for (int i = 0; i < count; ++i) tokens.push_back((i * 37 + salt * 101 + 11) % vocab);
  return tokens;
}

double RelativeError(absl::Span<const float> a, absl::Span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  double max_diff = 0.0, max_ref = 0.0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    max_diff = std::max(max_diff, std::abs(double{a[i]} - b[i]));
    max_ref = std::max(max_ref, std::abs(double{b[i]}));
  }
  return max_diff / std::max(max_ref, 1e-30);
}

std::shared_ptr<const Model> LoadTiny(const TinyLlamaSpec& spec) {
  const std::string dir = ghost::testing::MakeTempDir("batch");
  ghost::testing::WriteTinyLlama(dir, spec);
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

// Logits of `tokens` run alone through a session after `prefix`: all rows or the last one.
std::vector<float> Alone(const Model& model, const std::vector<std::int32_t>& prefix,
                         const std::vector<std::int32_t>& tokens, bool all_logits) {
  std::unique_ptr<ModelSession> session = model.NewSession();
  std::vector<float> logits;
  if (!prefix.empty()) {
    EXPECT_TRUE(session->Forward(prefix, false, logits).ok());
  }
  EXPECT_TRUE(session->Forward(tokens, all_logits, logits).ok());
  return logits;
}

struct TestSequence {
  std::vector<std::int32_t> prefix;  // already in the cache before the batched step
  std::vector<std::int32_t> chunk;   // the batched step's new tokens
  LogitRows logits;
  KvBlockTable blocks;
};

// Weight dtype and head_dim (4 heads): 8, or 64, a size the attention kernels specialise (the
// transposed AVX-512 tile serves bf16 caches of head_dim 64 and 128).
class BatchForwardTest : public ::testing::TestWithParam<std::tuple<std::string, int>> {};

TEST_P(BatchForwardTest, BatchEqualsEachSequenceAlone) {
  TinyLlamaSpec spec;
  spec.dtype = std::get<0>(GetParam());
  spec.head_dim = std::get<1>(GetParam());
  spec.hidden_size = spec.num_heads * spec.head_dim;
  spec.seed = 7;
  std::shared_ptr<const Model> model = LoadTiny(spec);
  ASSERT_NE(model, nullptr);
  const int vocab = spec.vocab_size;
  // Declared before the tables: they return their blocks to it when destroyed.
  // The dtype the session that computes Alone() uses: bf16 for bf16 weights, fp32 for fp32.
  PagedKvCache cache(KvCacheShapeOf(model->config()), 32, model->default_kv_dtype());
  std::vector<TestSequence> sequences;
  sequences.push_back({SomeTokens(10, vocab, 1), SomeTokens(7, vocab, 2), LogitRows::kAll, {}});
  sequences.push_back({{}, SomeTokens(13, vocab, 3), LogitRows::kLast, {}});    // fresh prompt
  sequences.push_back({SomeTokens(33, vocab, 4), {42}, LogitRows::kLast, {}});  // decode
  sequences.push_back({SomeTokens(3, vocab, 5), {7}, LogitRows::kNone, {}});
  sequences.push_back({SomeTokens(16, vocab, 6), {9, 8}, LogitRows::kLast, {}});  // block edge

  // Blocks handed out round-robin, 16 positions at a time, so that tables interleave.
  for (int tokens = 16; tokens <= 48; tokens += 16) {
    for (TestSequence& s : sequences) {
      const int total = static_cast<int>(s.prefix.size() + s.chunk.size());
      ASSERT_TRUE(cache.Resize(s.blocks, std::min(tokens, total)));
    }
  }
  std::unique_ptr<ModelRunner> runner = model->NewRunner();
  std::vector<float> logits;
  // The prefixes, batched too (no logits wanted).
  std::vector<ForwardSequence> prefill;
  for (TestSequence& s : sequences) {
    if (!s.prefix.empty()) prefill.push_back({s.prefix, 0, &s.blocks, LogitRows::kNone});
  }
  ASSERT_TRUE(runner->Forward(prefill, cache, logits).ok());
  EXPECT_TRUE(logits.empty());

  std::vector<ForwardSequence> step;
  for (TestSequence& s : sequences) {
    step.push_back({s.chunk, static_cast<int>(s.prefix.size()), &s.blocks, s.logits});
  }
  ASSERT_TRUE(runner->Forward(step, cache, logits).ok());
  ASSERT_EQ(logits.size(), static_cast<size_t>((7 + 1 + 1 + 1) * vocab));
  size_t row = 0;
  for (const TestSequence& s : sequences) {
    if (s.logits == LogitRows::kNone) continue;
    const bool all = s.logits == LogitRows::kAll;
    const std::vector<float> expected = Alone(*model, s.prefix, s.chunk, all);
    const size_t rows = all ? s.chunk.size() : 1;
    const absl::Span<const float> got = absl::MakeConstSpan(&logits[row * vocab], rows * vocab);
    EXPECT_LT(RelativeError(got, expected), kTolerance) << "sequence " << &s - &sequences[0];
    row += rows;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, BatchForwardTest,
                         ::testing::Combine(::testing::Values("F32", "BF16"),
                                            ::testing::Values(8, 64)));

TEST(BatchForwardTest, ChunkedPrefillEqualsOneShot) {
  const TinyLlamaSpec spec;
  std::shared_ptr<const Model> model = LoadTiny(spec);
  ASSERT_NE(model, nullptr);
  const std::vector<std::int32_t> prompt = SomeTokens(45, spec.vocab_size, 9);
  const std::vector<float> one_shot = Alone(*model, {}, prompt, false);

  // 45 tokens in chunks of 16, 16 and 13, each step beside a decoding neighbour.
  PagedKvCache cache(KvCacheShapeOf(model->config()), 8, model->default_kv_dtype());
  std::unique_ptr<ModelRunner> runner = model->NewRunner();
  KvBlockTable blocks, neighbour_blocks;
  ASSERT_TRUE(cache.Resize(blocks, 45));
  std::vector<std::int32_t> neighbour = SomeTokens(5, spec.vocab_size, 10);
  std::vector<float> logits;
  int start = 0;
  for (int size : {16, 16, 13}) {
    ASSERT_TRUE(cache.Resize(neighbour_blocks, static_cast<int>(neighbour.size()) + 1));
    const int neighbour_start = static_cast<int>(neighbour.size()) - (start == 0 ? 5 : 1);
    const std::vector<ForwardSequence> step = {
        {absl::MakeConstSpan(neighbour).subspan(neighbour_start), neighbour_start,
         &neighbour_blocks, LogitRows::kNone},
        {absl::MakeConstSpan(prompt).subspan(start, size), start, &blocks,
         start + size == 45 ? LogitRows::kLast : LogitRows::kNone}};
    ASSERT_TRUE(runner->Forward(step, cache, logits).ok());
    neighbour.push_back(static_cast<std::int32_t>(start));
    start += size;
  }
  EXPECT_LT(RelativeError(logits, one_shot), kTolerance);
}

TEST(BatchForwardTest, RejectsBadSteps) {
  TinyLlamaSpec spec;
  spec.context = 32;
  std::shared_ptr<const Model> model = LoadTiny(spec);
  ASSERT_NE(model, nullptr);
  std::unique_ptr<ModelRunner> runner = model->NewRunner();
  PagedKvCache cache(KvCacheShapeOf(model->config()), 4, KvDtype::kF32);
  KvBlockTable blocks;
  ASSERT_TRUE(cache.Resize(blocks, 16));
  const std::vector<std::int32_t> tokens = {1, 2, 3};
  std::vector<float> logits;
  const auto message = [&](std::vector<ForwardSequence> step, PagedKvCache& pool) {
    const absl::Status s = runner->Forward(step, pool, logits);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    return std::string(s.message());
  };
  EXPECT_THAT(message({}, cache), HasSubstr("needs a sequence"));
  EXPECT_THAT(message({{tokens, 14, &blocks, LogitRows::kLast}}, cache),
              HasSubstr("does not hold its 17 positions"));
  EXPECT_THAT(message({{tokens, 30, &blocks, LogitRows::kLast}}, cache),
              HasSubstr("sequence of 33 tokens exceeds the model's context of 32 tokens"));
  EXPECT_THAT(message({{tokens, 0, nullptr, LogitRows::kLast}}, cache), HasSubstr("block table"));
  const std::vector<std::int32_t> bad = {1, 259};
  EXPECT_THAT(message({{bad, 0, &blocks, LogitRows::kLast}}, cache),
              HasSubstr("token id 259 out of range [0, 259)"));
  PagedKvCache other_shape(KvCacheShape{1, 2, 8}, 4, KvDtype::kF32);
  EXPECT_THAT(message({{tokens, 0, &blocks, LogitRows::kLast}}, other_shape),
              HasSubstr("another shape"));
  PagedKvCache other_pool(KvCacheShapeOf(model->config()), 4, KvDtype::kF32);
  EXPECT_THAT(message({{tokens, 0, &blocks, LogitRows::kLast}}, other_pool),
              HasSubstr("block table"));
}

}  // namespace
}  // namespace ghost
