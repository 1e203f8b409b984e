// The low-bit kernels: the repacked weights decode to exactly what engine/compress's
// reference decoder gives; every variant matches the scalar reference up to fp32 summation
// order; and all of them stay within the int8-activation error bound of an fp64
// dequantize-then-dot reference. Every format, every block size, awkward shapes.
#include "kernels/cpu/quant_matmul.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/compress/quantized_matrix.h"
#include "engine/formats/packing.h"
#include "gtest/gtest.h"
#include "kernels/cpu/quant_internal.h"
#include "tests/kernels/random_quant_matrix.h"

namespace ghost::kernels {
namespace {

using testing::FormatAndBlock;
using testing::kBlockSizes;
using testing::kLowBitFormats;
using testing::kTokenCounts;
using testing::MatrixShape;
using testing::RandomActivations;
using testing::RandomQuantMatrix;
using testing::ViewOf;

// Rows not a multiple of anything; cols shorter than a block, with short last blocks, and
// long enough for several 16-block groups with a partial last one.
constexpr MatrixShape kShapes[] = {{1, 17}, {3, 64}, {37, 333}, {19, 4100}};

std::vector<float> DequantizeAll(const QuantWeights& w) {
  std::vector<float> out(w.rows() * w.cols());
  for (std::size_t r = 0; r < w.rows(); ++r) DequantizeQuantRow(w, r, out.data() + r * w.cols());
  return out;
}

class QuantMatMulTest : public ::testing::TestWithParam<FormatAndBlock> {};

TEST_P(QuantMatMulTest, DequantizeMatchesEngineReference) {
  const auto [format, block_size] = GetParam();
  std::mt19937 rng(std::random_device{}());
  for (const MatrixShape& shape : kShapes) {
    const compress::QuantizedMatrix m =
        RandomQuantMatrix(format, shape.rows, shape.cols, block_size, rng);
    ASSERT_TRUE(m.Validate().ok()) << m.Validate();
    const QuantWeights w = QuantWeights::Prepare(ViewOf(m));
    EXPECT_EQ(DequantizeAll(w), compress::Dequantize(m)) << shape.rows << "x" << shape.cols;
  }
}

TEST_P(QuantMatMulTest, VariantsMatchScalarAndDenseReference) {
  const auto [format, block_size] = GetParam();
  std::mt19937 rng(std::random_device{}());
  for (const MatrixShape& shape : kShapes) {
    const compress::QuantizedMatrix m =
        RandomQuantMatrix(format, shape.rows, shape.cols, block_size, rng);
    const QuantWeights w = QuantWeights::Prepare(ViewOf(m));
    const std::vector<float> dense = compress::Dequantize(m);
    for (std::size_t n : kTokenCounts) {
      const std::vector<float> x = RandomActivations(n * shape.cols, rng);
      std::vector<float> reference(n * shape.rows);
      MatMulQuantIsa(CpuIsa::kScalar, x.data(), n, w, reference.data());
      for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
        if (!IsaSupported(isa)) continue;
        std::vector<float> y(n * shape.rows, NAN);
        MatMulQuantIsa(isa, x.data(), n, w, y.data());
        for (std::size_t t = 0; t < n; ++t) {
          for (std::size_t r = 0; r < shape.rows; ++r) {
            double exact = 0;
            double magnitude = 0;
            for (std::size_t c = 0; c < shape.cols; ++c) {
              const double p = double{x[t * shape.cols + c]} * dense[r * shape.cols + c];
              exact += p;
              magnitude += std::fabs(p);
            }
            const float got = y[t * shape.rows + r];
            const std::string where = std::string(IsaName(isa)) + " " + WeightFormatName(format) +
                                      " " + std::to_string(shape.rows) + "x" +
                                      std::to_string(shape.cols) + " n=" + std::to_string(n) +
                                      " t=" + std::to_string(t) + " r=" + std::to_string(r);
            // Same integers, other fp32 summation order.
            ASSERT_NEAR(got, reference[t * shape.rows + r], 1e-5 * magnitude + 1e-6) << where;
            ASSERT_NEAR(got, exact,
                        testing::Int8DotErrorBound(w, r, dense.data() + r * shape.cols,
                                                   x.data() + t * shape.cols) +
                            1e-5 * magnitude)
                << where;
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFormats, QuantMatMulTest, testing::AllFormatsAndBlocks(),
                         testing::FormatAndBlockName);

// Every AVX-512 variant the CPU can run, not only the one dispatch picks: without VNNI,
// with VNNI, and with VNNI and VBMI (base-3 digits through byte tables).
TEST(QuantMatMulAvx512VariantsTest, MatchScalar) {
  if (!IsaSupported(CpuIsa::kAvx512)) GTEST_SKIP() << "no AVX-512";
  __builtin_cpu_init();
  const bool vnni = __builtin_cpu_supports("avx512vnni");
  const bool vbmi = __builtin_cpu_supports("avx512vbmi");
  const struct {
    const char* name;
    bool supported;
    internal::QuantRowsFn fn;
  } variants[] = {{"avx512", true, internal::MatMulQuantAvx512},
                  {"avx512-vnni", vnni, internal::MatMulQuantAvx512Vnni},
                  {"avx512-vbmi", vnni && vbmi, internal::MatMulQuantAvx512Vbmi}};
  std::mt19937 rng(std::random_device{}());
  for (WeightFormat format : kLowBitFormats) {
    for (std::size_t block_size : kBlockSizes) {
      for (const auto& shape : kShapes) {
        const compress::QuantizedMatrix m =
            RandomQuantMatrix(format, shape.rows, shape.cols, block_size, rng);
        const QuantWeights w = QuantWeights::Prepare(ViewOf(m));
        for (std::size_t n : kTokenCounts) {
          const std::vector<float> x = RandomActivations(n * m.cols, rng);
          auto& scratch = internal::ThreadActivationScratch();
          const internal::PackedActivations packed =
              internal::PackActivations(x.data(), n, w, scratch);
          std::vector<float> expected(n * m.rows);
          internal::MatMulQuantScalar(w, packed, nullptr, 0, m.rows, expected.data(), m.rows);
          for (const auto& variant : variants) {
            if (!variant.supported) continue;
            std::vector<float> got(n * m.rows, NAN);
            variant.fn(w, packed, nullptr, 0, m.rows, got.data(), m.rows);
            for (std::size_t i = 0; i < got.size(); ++i) {
              ASSERT_NEAR(got[i], expected[i], 1e-4 * (1 + std::fabs(expected[i])))
                  << variant.name << " " << WeightFormatName(format) << " block " << block_size
                  << " cols " << m.cols << " n=" << n << " i=" << i;
            }
          }
        }
      }
    }
  }
}

// Every packer writes the same bytes, block sums and scale, so that the variants compute
// the same integers whichever packer ran. Scratch starts dirty: every byte must be written.
TEST(QuantPackTest, Avx512PackerMatchesScalar) {
  if (!IsaSupported(CpuIsa::kAvx512)) GTEST_SKIP() << "no AVX-512";
  std::mt19937 rng(std::random_device{}());
  for (WeightFormat format : {WeightFormat::kTernary2Bit, WeightFormat::kCodebook2Bit}) {
    for (std::size_t block_size : kBlockSizes) {
      for (const MatrixShape& shape : kShapes) {
        const compress::QuantizedMatrix m =
            RandomQuantMatrix(format, 1, shape.cols, block_size, rng);
        const QuantWeights w = QuantWeights::Prepare(ViewOf(m));
        const QuantLayout& l = w.layout();
        std::vector<float> x = RandomActivations(shape.cols, rng);
        x[rng() % shape.cols] = 0.5f;  // Halves round away from zero after scaling...
        x[0] = 127.0f;                 // ...by exactly 1: max |x| is 127.
        std::vector<std::int8_t> expected(l.activation_bytes, 55), got(l.activation_bytes, 77);
        std::vector<float> expected_sums(l.scale_stride, 5), got_sums(l.scale_stride, 7);
        const float expected_scale =
            internal::PackTokenScalar(x.data(), w, expected.data(), expected_sums.data());
        const float got_scale = internal::PackTokenAvx512(x.data(), w, got.data(), got_sums.data());
        const std::string where = std::string(WeightFormatName(format)) + " block " +
                                  std::to_string(block_size) + " cols " +
                                  std::to_string(shape.cols);
        EXPECT_EQ(got_scale, expected_scale) << where;
        EXPECT_EQ(got, expected) << where;
        EXPECT_EQ(got_sums, expected_sums) << where;
      }
    }
  }
}

// Large enough for MatMulQuant to split rows over the thread pool.
TEST(QuantMatMulTest, ThreadedDefaultMatchesScalar) {
  std::mt19937 rng(std::random_device{}());
  for (WeightFormat format : kLowBitFormats) {
    const compress::QuantizedMatrix m = RandomQuantMatrix(format, 301, 1000, 64, rng);
    const QuantWeights w = QuantWeights::Prepare(ViewOf(m));
    for (std::size_t n : {std::size_t{1}, std::size_t{8}}) {
      const std::vector<float> x = RandomActivations(n * m.cols, rng);
      std::vector<float> expected(n * m.rows);
      std::vector<float> got(n * m.rows);
      MatMulQuantIsa(CpuIsa::kScalar, x.data(), n, w, expected.data());
      MatMulQuant(x.data(), n, w, got.data());
      for (std::size_t i = 0; i < got.size(); ++i) {
        ASSERT_NEAR(got[i], expected[i], 1e-4 * (1 + std::fabs(expected[i])))
            << WeightFormatName(format) << " n=" << n << " i=" << i;
      }
    }
  }
}

// q/k/v-like matrices through one shared call give what separate calls give, bit for bit
// (the same packed input and the same row kernels), also when one of them has another
// layout and is run on its own.
TEST(QuantMatMulTest, SharedInputMatchesSeparateCalls) {
  std::mt19937 rng(std::random_device{}());
  const std::size_t cols = 700;
  std::vector<compress::QuantizedMatrix> matrices;
  for (std::size_t rows : {std::size_t{320}, std::size_t{48}, std::size_t{48}}) {
    matrices.push_back(RandomQuantMatrix(WeightFormat::kTernary2Bit, rows, cols, 64, rng));
  }
  matrices.push_back(RandomQuantMatrix(WeightFormat::kCodebook2Bit, 40, cols, 32, rng));
  std::vector<QuantWeights> weights;
  for (const auto& m : matrices) {
    weights.push_back(QuantWeights::Prepare(ViewOf(m)));
  }
  for (std::size_t n : {std::size_t{1}, std::size_t{5}}) {
    const std::vector<float> x = RandomActivations(n * cols, rng);
    std::vector<std::vector<float>> expected, got;
    std::vector<const QuantWeights*> w;
    std::vector<float*> y;
    for (const QuantWeights& weight : weights) {
      expected.emplace_back(n * weight.rows());
      got.emplace_back(n * weight.rows(), -1.0f);
      MatMulQuant(x.data(), n, weight, expected.back().data());
      w.push_back(&weight);
    }
    for (auto& out : got) y.push_back(out.data());
    MatMulQuantShared(x.data(), n, w.data(), y.data(), w.size());
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << "matrix " << i;
  }
}

TEST(QuantMatMulTest, ZeroActivationsGiveZero) {
  std::mt19937 rng(std::random_device{}());
  for (WeightFormat format : kLowBitFormats) {
    const compress::QuantizedMatrix m = RandomQuantMatrix(format, 5, 100, 16, rng);
    const QuantWeights w = QuantWeights::Prepare(ViewOf(m));
    const std::vector<float> x(2 * m.cols, 0.0f);
    std::vector<float> y(2 * m.rows, NAN);
    MatMulQuant(x.data(), 2, w, y.data());
    for (float v : y) EXPECT_EQ(v, 0.0f) << WeightFormatName(format);
  }
}

// Every valid base-3 byte decodes through the stored transform: block b's byte k (of 51
// whole bytes in a 256-code block) is the value 51 * b + k.
TEST(QuantMatMulTest, EveryBase3ByteDecodes) {
  compress::QuantizedMatrix m;
  m.rows = 1;
  m.cols = 5 * 256;
  m.format = WeightFormat::kTernaryBase3;
  m.block_size = 256;
  m.codes.assign(m.code_bytes_per_row(), 0);
  m.scales.assign(m.blocks_per_row(), compress::F32ToF16(1.0f));
  std::vector<std::int8_t> codes(m.cols, 0);
  for (std::size_t b = 0; b < 5; ++b) {
    for (std::size_t k = 0; k < 51; ++k) {
      int value = static_cast<int>((51 * b + k) % 243);
      for (std::size_t i = 0; i < 5; ++i, value /= 3) {
        codes[256 * b + 5 * k + i] = static_cast<std::int8_t>(value % 3 - 1);
      }
    }
    PackCodes(m.format, absl::MakeSpan(codes.data() + 256 * b, 256),
              absl::MakeSpan(m.codes.data() + b * m.block_bytes(), m.block_bytes()));
  }
  ASSERT_TRUE(m.Validate().ok());
  const QuantWeights w = QuantWeights::Prepare(ViewOf(m));
  std::vector<float> row(m.cols);
  DequantizeQuantRow(w, 0, row.data());
  for (std::size_t c = 0; c < m.cols; ++c) ASSERT_EQ(row[c], codes[c]) << c;
}

}  // namespace
}  // namespace ghost::kernels
