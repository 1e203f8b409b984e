// The fp32-activation low-bit kernels (MatMulQuantF32): every variant against an fp64
// product of DequantizeQuantRow's weights, and every SIMD variant against the scalar one,
// within fp32 summation error. Every format, every block size, rows and cols that are no
// multiple of a block, a vector or a 16-block group, and token counts 1, 3 and 16.
#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "engine/compress/quantized_matrix.h"
#include "gtest/gtest.h"
#include "kernels/cpu/quant_matmul.h"
#include "tests/kernels/random_quant_matrix.h"

namespace ghost::kernels {
namespace {

using testing::FormatAndBlock;
using testing::kLowBitFormats;
using testing::kTokenCounts;
using testing::MatrixShape;
using testing::RandomActivations;
using testing::RandomQuantMatrix;
using testing::ViewOf;

constexpr CpuIsa kIsas[] = {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512};

// One column; a row shorter than a block; a short last block; several 16-block groups with
// a partial last one (4100 is no multiple of 16 * block for any block size); rows that
// leave 0 to 3 over after tiles of 3 or 4 rows.
constexpr MatrixShape kShapes[] = {{1, 1}, {2, 17}, {3, 64}, {37, 333}, {19, 4100}, {6, 1000}};

// fp32 sums differ from the exact product by a few ulps of sum |w x|; 1e-5 leaves room for
// any summation order, yet one term of a 4100-column sum is ~3e-4 of it, so that a single
// misplaced weight of typical size fails.
constexpr double kRelativeError = 1e-5;

// y[t, r] in fp64 and sum_c |w[r, c] x[t, c]|, from DequantizeQuantRow's weights.
struct Reference {
  std::vector<double> y;
  std::vector<double> magnitude;
};

Reference DenseReference(const QuantWeights& w, const std::vector<float>& x, std::size_t n) {
  Reference ref;
  ref.y.assign(n * w.rows(), 0.0);
  ref.magnitude.assign(n * w.rows(), 0.0);
  std::vector<float> row(w.cols());
  for (std::size_t r = 0; r < w.rows(); ++r) {
    DequantizeQuantRow(w, r, row.data());
    for (std::size_t t = 0; t < n; ++t) {
      for (std::size_t c = 0; c < w.cols(); ++c) {
        const double p = double{row[c]} * x[t * w.cols() + c];
        ref.y[t * w.rows() + r] += p;
        ref.magnitude[t * w.rows() + r] += std::fabs(p);
      }
    }
  }
  return ref;
}

class QuantF32Test : public ::testing::TestWithParam<FormatAndBlock> {};

TEST_P(QuantF32Test, VariantsMatchDenseReferenceAndScalar) {
  const auto [format, block_size] = GetParam();
  std::mt19937 rng(std::random_device{}());
  for (const MatrixShape& shape : kShapes) {
    const compress::QuantizedMatrix m =
        RandomQuantMatrix(format, shape.rows, shape.cols, block_size, rng);
    const QuantWeights w = QuantWeights::Prepare(ViewOf(m));
    for (std::size_t n : kTokenCounts) {
      const std::vector<float> x = RandomActivations(n * shape.cols, rng);
      const Reference ref = DenseReference(w, x, n);
      std::vector<float> scalar(n * shape.rows, NAN);
      MatMulQuantF32Isa(CpuIsa::kScalar, x.data(), n, w, scalar.data());
      for (CpuIsa isa : kIsas) {
        if (!IsaSupported(isa)) continue;
        std::vector<float> y(n * shape.rows, NAN);
        MatMulQuantF32Isa(isa, x.data(), n, w, y.data());
        const auto where = [&](std::size_t i) {
          return std::string(IsaName(isa)) + " " + WeightFormatName(format) + " block " +
                 std::to_string(block_size) + " " + std::to_string(shape.rows) + "x" +
                 std::to_string(shape.cols) + " n=" + std::to_string(n) +
                 " t=" + std::to_string(i / shape.rows) + " r=" + std::to_string(i % shape.rows);
        };
        for (std::size_t i = 0; i < y.size(); ++i) {
          const double tolerance = kRelativeError * ref.magnitude[i] + 1e-30;
          ASSERT_NEAR(y[i], ref.y[i], tolerance) << where(i);
          ASSERT_NEAR(y[i], scalar[i], tolerance) << where(i);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFormats, QuantF32Test, testing::AllFormatsAndBlocks(),
                         testing::FormatAndBlockName);

// Large enough for the rows to be split over the thread pool, on the detected variant.
TEST(QuantF32ThreadedTest, DefaultMatchesScalar) {
  std::mt19937 rng(std::random_device{}());
  for (WeightFormat format : kLowBitFormats) {
    const compress::QuantizedMatrix m = RandomQuantMatrix(format, 301, 1000, 64, rng);
    const QuantWeights w = QuantWeights::Prepare(ViewOf(m));
    for (std::size_t n : {std::size_t{1}, std::size_t{8}}) {
      const std::vector<float> x = RandomActivations(n * m.cols, rng);
      const Reference ref = DenseReference(w, x, n);
      std::vector<float> expected(n * m.rows, NAN);
      std::vector<float> got(n * m.rows, NAN);
      MatMulQuantF32Isa(CpuIsa::kScalar, x.data(), n, w, expected.data());
      MatMulQuantF32(x.data(), n, w, got.data());
      for (std::size_t i = 0; i < got.size(); ++i) {
        ASSERT_NEAR(got[i], expected[i], kRelativeError * ref.magnitude[i])
            << WeightFormatName(format) << " n=" << n << " i=" << i;
      }
    }
  }
}

// Far more accurate than the int8 path: on the same product, the fp32 path's error is
// under a thousandth of the int8 path's bound.
TEST(QuantF32AccuracyTest, FarInsideInt8Bound) {
  std::mt19937 rng(std::random_device{}());
  for (WeightFormat format : kLowBitFormats) {
    const compress::QuantizedMatrix m = RandomQuantMatrix(format, 8, 2048, 64, rng);
    const QuantWeights w = QuantWeights::Prepare(ViewOf(m));
    const std::vector<float> x = RandomActivations(m.cols, rng);
    const Reference ref = DenseReference(w, x, 1);
    std::vector<float> y(m.rows, NAN);
    MatMulQuantF32(x.data(), 1, w, y.data());
    std::vector<float> row(m.cols);
    for (std::size_t r = 0; r < m.rows; ++r) {
      DequantizeQuantRow(w, r, row.data());
      const double int8_bound = testing::Int8DotErrorBound(w, r, row.data(), x.data());
      EXPECT_LT(std::fabs(y[r] - ref.y[r]), 1e-3 * int8_bound)
          << WeightFormatName(format) << " " << r;
    }
  }
}

TEST(QuantF32Test, ZeroActivationsGiveZero) {
  std::mt19937 rng(std::random_device{}());
  for (WeightFormat format : kLowBitFormats) {
    const compress::QuantizedMatrix m = RandomQuantMatrix(format, 5, 100, 16, rng);
    const QuantWeights w = QuantWeights::Prepare(ViewOf(m));
    const std::vector<float> x(2 * m.cols, 0.0f);
    for (CpuIsa isa : kIsas) {
      if (!IsaSupported(isa)) continue;
      std::vector<float> y(2 * m.rows, NAN);
      MatMulQuantF32Isa(isa, x.data(), 2, w, y.data());
      for (float v : y) EXPECT_EQ(v, 0.0f) << IsaName(isa) << " " << WeightFormatName(format);
    }
  }
}

}  // namespace
}  // namespace ghost::kernels
