// QuantWeights' buffers: packing into caller memory (PrepareInto), re-pointing at a copy of the
// packed bytes (Rebind) and copying, against the owning Prepare, for every format and block size.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/quant_matmul.h"
#include "tests/kernels/random_quant_matrix.h"

namespace ghost::kernels {
namespace {

using testing::FormatAndBlock;

struct FreeAligned {
  void operator()(std::uint8_t* p) const { std::free(p); }
};
using AlignedBytes = std::unique_ptr<std::uint8_t, FreeAligned>;

AlignedBytes Allocate(std::size_t bytes) {
  return AlignedBytes(static_cast<std::uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
}

std::vector<float> Product(const QuantWeights& w, const std::vector<float>& x, std::size_t n) {
  std::vector<float> y(n * w.rows());
  MatMulQuant(x.data(), n, w, y.data());
  return y;
}

class QuantWeightsTest : public ::testing::TestWithParam<FormatAndBlock> {};

TEST_P(QuantWeightsTest, PreparedIntoCallerMemoryAndReboundToACopyMultiplyAlike) {
  const auto [format, block_size] = GetParam();
  std::mt19937 rng(7);
  constexpr std::size_t kRows = 37, kCols = 300, kTokens = 3;
  const compress::QuantizedMatrix m =
      testing::RandomQuantMatrix(format, kRows, kCols, block_size, rng);
  const QuantMatrixView view = testing::ViewOf(m);
  const std::vector<float> x = testing::RandomActivations(kTokens * kCols, rng);

  const QuantWeights owned = QuantWeights::Prepare(view);
  const std::vector<float> expected = Product(owned, x, kTokens);

  const std::size_t bytes = QuantWeights::PackedBytes(view);
  AlignedBytes memory = Allocate(bytes);
  std::memset(memory.get(), 0xAB, bytes);  // PrepareInto must write every byte it reads
  QuantWeights placed = QuantWeights::PrepareInto(view, memory.get());
  EXPECT_EQ(placed.packed_data(), memory.get());
  EXPECT_EQ(std::memcmp(memory.get(), owned.packed_data(), bytes), 0);
  EXPECT_EQ(Product(placed, x, kTokens), expected);

  // Rebound to a copy, it reads the copy: the original can go.
  AlignedBytes copy = Allocate(bytes);
  std::memcpy(copy.get(), memory.get(), bytes);
  placed.Rebind(copy.get());
  std::memset(memory.get(), 0, bytes);
  EXPECT_EQ(placed.packed_data(), copy.get());
  EXPECT_EQ(Product(placed, x, kTokens), expected);

  // A copy of an owning one owns its bytes; a copy of a placed one reads the same memory.
  QuantWeights owned_copy = owned;
  EXPECT_NE(owned_copy.packed_data(), owned.packed_data());
  EXPECT_EQ(Product(owned_copy, x, kTokens), expected);
  const QuantWeights placed_copy = placed;
  EXPECT_EQ(placed_copy.packed_data(), copy.get());
}

INSTANTIATE_TEST_SUITE_P(AllFormats, QuantWeightsTest, testing::AllFormatsAndBlocks(),
                         testing::FormatAndBlockName);

}  // namespace
}  // namespace ghost::kernels
