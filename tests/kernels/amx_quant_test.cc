// The AMX low-bit products: against the scalar reference (the same integer dot products,
// so only fp32 summation order differs) for every block size, shapes that are no multiple
// of the 16-row tile or of a 16-block group, and token counts around the 16-token tile;
// and with AMX switched off, the dispatch gives the AVX-512 row kernels' results exactly.
// Skipped where the CPU or the OS does not offer AMX.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "engine/compress/quantized_matrix.h"
#include "gtest/gtest.h"
#include "kernels/cpu/quant_internal.h"
#include "kernels/cpu/quant_matmul.h"
#include "tests/kernels/amx_switch.h"
#include "tests/kernels/random_quant_matrix.h"

namespace ghost::kernels {
namespace {

using testing::AmxSwitch;
using testing::kBlockSizes;
using testing::MatrixShape;
using testing::RandomActivations;
using testing::RandomQuantMatrix;
using testing::ViewOf;

constexpr MatrixShape kShapes[] = {{1, 17}, {16, 64}, {37, 333}, {19, 4100}, {50, 1024}};
// The formats with 2-bit digits (ternary-base3's bytes of 5 digits stay on the AVX-512 path).
constexpr WeightFormat kAmxFormats[] = {WeightFormat::kTernary2Bit, WeightFormat::kCodebook2Bit};
constexpr std::size_t kTokens[] = {1, 2, 7, 8, 15, 16, 17, 31, 33, 48, 64, 130};

TEST(AmxQuantTest, TileKernelMatchesScalar) {
  if (!AmxSupported()) GTEST_SKIP() << "no AMX on this CPU, or Linux refused the tile state";
  std::mt19937 rng(std::random_device{}());
  for (WeightFormat format : kAmxFormats) {
    for (std::size_t block_size : kBlockSizes) {
      for (const auto& shape : kShapes) {
        const compress::QuantizedMatrix m =
            RandomQuantMatrix(format, shape.rows, shape.cols, block_size, rng);
        const QuantWeights w = QuantWeights::Prepare(ViewOf(m));
        ASSERT_TRUE(internal::QuantAmxHandles(w)) << "block " << block_size;
        for (std::size_t n : kTokens) {
          // Two passes of 8 token tiles on the smaller shapes only: the scalar reference
          // is slow.
          if (n > 64 && shape.cols > 1024) continue;
          const std::vector<float> x = RandomActivations(n * m.cols, rng);
          const internal::PackedActivations packed =
              internal::PackActivations(x.data(), n, w, internal::ThreadActivationScratch());
          std::vector<float> expected(n * m.rows);
          internal::MatMulQuantScalar(w, packed, nullptr, 0, m.rows, expected.data(), m.rows);
          // Dirty memory: the packer must write every byte the kernel reads.
          std::vector<std::int8_t> storage(internal::AmxActivationBytes(w, n) + 64, 0x55);
          auto* values = reinterpret_cast<std::int8_t*>(
              (reinterpret_cast<std::uintptr_t>(storage.data()) + 63) & ~std::uintptr_t{63});
          const internal::AmxActivations amx = internal::PackActivationsAmx(w, packed, values);
          std::vector<float> got(n * m.rows, NAN);
          internal::MatMulQuantAmx(w, amx, 0, m.rows, got.data(), m.rows);
          for (std::size_t i = 0; i < got.size(); ++i) {
            ASSERT_NEAR(got[i], expected[i], 1e-4 * (1 + std::fabs(expected[i])))
                << WeightFormatName(format) << " block " << block_size << " " << m.rows << "x"
                << m.cols << " n=" << n << " i=" << i;
          }
        }
      }
    }
  }
}

// Through the public entry point: rows split over the pool, AMX from its token threshold
// on, and the result the scalar reference's up to summation order whichever path ran.
TEST(AmxQuantTest, DispatchMatchesScalar) {
  if (!AmxSupported()) GTEST_SKIP() << "no AMX on this CPU, or Linux refused the tile state";
  const AmxSwitch restore;
  SetAmxEnabled(true);
  std::mt19937 rng(std::random_device{}());
  for (WeightFormat format : kAmxFormats) {
    const compress::QuantizedMatrix m = RandomQuantMatrix(format, 301, 1000, 64, rng);
    const QuantWeights w = QuantWeights::Prepare(ViewOf(m));
    for (std::size_t n : kTokens) {
      const std::vector<float> x = RandomActivations(n * m.cols, rng);
      std::vector<float> expected(n * m.rows);
      std::vector<float> got(n * m.rows, NAN);
      MatMulQuantIsa(CpuIsa::kScalar, x.data(), n, w, expected.data());
      MatMulQuant(x.data(), n, w, got.data());
      for (std::size_t i = 0; i < got.size(); ++i) {
        ASSERT_NEAR(got[i], expected[i], 1e-4 * (1 + std::fabs(expected[i])))
            << WeightFormatName(format) << " n=" << n;
      }
    }
  }
}

TEST(AmxQuantTest, Base3StaysOnRowKernels) {
  std::mt19937 rng(std::random_device{}());
  const compress::QuantizedMatrix m =
      RandomQuantMatrix(WeightFormat::kTernaryBase3, 16, 320, 64, rng);
  EXPECT_FALSE(internal::QuantAmxHandles(QuantWeights::Prepare(ViewOf(m))));
}

// Switched off, a product of many tokens is the AVX-512 row kernel's, bit for bit.
TEST(AmxQuantTest, SwitchedOffGivesRowKernels) {
  if (!IsaSupported(CpuIsa::kAvx512)) GTEST_SKIP() << "no AVX-512";
  const AmxSwitch restore;
  SetAmxEnabled(false);
  EXPECT_FALSE(AmxEnabled());
  std::mt19937 rng(std::random_device{}());
  const compress::QuantizedMatrix m =
      RandomQuantMatrix(WeightFormat::kTernary2Bit, 64, 512, 64, rng);
  const QuantWeights w = QuantWeights::Prepare(ViewOf(m));
  const std::size_t n = 32;
  const std::vector<float> x = RandomActivations(n * m.cols, rng);
  std::vector<float> got(n * m.rows, NAN);
  MatMulQuantIsa(CpuIsa::kAvx512, x.data(), n, w, got.data());
  const internal::PackedActivations packed =
      internal::PackActivations(x.data(), n, w, internal::ThreadActivationScratch());
  std::vector<float> expected(n * m.rows, NAN);
  internal::QuantRowsFor(CpuIsa::kAvx512)(w, packed, nullptr, 0, m.rows, expected.data(), m.rows);
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], expected[i]) << "i=" << i;
}

}  // namespace
}  // namespace ghost::kernels
