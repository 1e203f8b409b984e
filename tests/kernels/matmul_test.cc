// Every CPU variant this machine supports against the scalar reference, on fresh random
// inputs, over shapes that exercise every tile edge, column tail, column pass and the
// thread split.
#include "kernels/cpu/matmul.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"

namespace ghost::kernels {
namespace {

enum class WeightType { kF32, kBf16, kF16 };

std::string TypeName(WeightType type) {
  switch (type) {
    case WeightType::kF32:
      return "F32";
    case WeightType::kBf16:
      return "Bf16";
    case WeightType::kF16:
      return "F16";
  }
  return "?";
}

struct Inputs {
  std::vector<float> x;
  std::vector<float> w_f32;
  std::vector<std::uint16_t> w_bf16;  // bf16 or fp16 bits
  std::vector<float> w_as_f32;        // The weights as the kernel sees them (bf16/fp16 widened).
};

Inputs RandomInputs(std::size_t n, std::size_t rows, std::size_t cols, WeightType type) {
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Inputs in;
  in.x.resize(n * cols);
  for (float& v : in.x) v = normal(rng);
  in.w_as_f32.resize(rows * cols);
  if (type == WeightType::kF32) {
    in.w_f32.resize(rows * cols);
    for (std::size_t i = 0; i < in.w_f32.size(); ++i) in.w_f32[i] = in.w_as_f32[i] = normal(rng);
  } else if (type == WeightType::kBf16) {
    in.w_bf16.resize(rows * cols);
    for (std::size_t i = 0; i < in.w_bf16.size(); ++i) {
      in.w_bf16[i] = F32ToBf16(normal(rng));
      in.w_as_f32[i] = Bf16ToF32(in.w_bf16[i]);
    }
  } else {
    // Random fp16 bit patterns: either sign, magnitudes 2^-5 .. 2^3 with every mantissa,
    // and one in 16 a subnormal (exponent field 0), which the conversions must get right.
    std::uniform_int_distribution<int> bits(0, 0xffff);
    in.w_bf16.resize(rows * cols);
    for (std::size_t i = 0; i < in.w_bf16.size(); ++i) {
      const int random = bits(rng);
      const int exponent = (random & 0xf) == 0 ? 0 : 10 + (random >> 4 & 7);
      const int mantissa = bits(rng) & 0x3ff;
      in.w_bf16[i] = static_cast<std::uint16_t>((random >> 15) << 15 | exponent << 10 | mantissa);
      in.w_as_f32[i] = F16ToF32(in.w_bf16[i]);
    }
  }
  return in;
}

std::vector<float> RunVariant(CpuIsa isa, const Inputs& in, std::size_t n, std::size_t rows,
                              std::size_t cols, WeightType type) {
  // NaN in y catches a kernel that accumulates into, or skips, an output.
  std::vector<float> y(n * rows, std::numeric_limits<float>::quiet_NaN());
  if (type == WeightType::kF32) {
    MatMulF32Isa(isa, in.x.data(), n, in.w_f32.data(), rows, cols, y.data());
  } else if (type == WeightType::kBf16) {
    MatMulBf16Isa(isa, in.x.data(), n, in.w_bf16.data(), rows, cols, y.data());
  } else {
    MatMulF16Isa(isa, in.x.data(), n, in.w_bf16.data(), rows, cols, y.data());
  }
  return y;
}

// |got - want| <= 1e-5 * sum_c |x||w|: fp32 rounding of a sum whose order differs.
void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, const Inputs& in,
                 std::size_t n, std::size_t rows, std::size_t cols, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  int failures = 0;
  for (std::size_t t = 0; t < n; ++t) {
    for (std::size_t r = 0; r < rows; ++r) {
      double magnitude = 0.0;
      for (std::size_t c = 0; c < cols; ++c) {
        magnitude += std::fabs(double{in.x[t * cols + c]} * in.w_as_f32[r * cols + c]);
      }
      const float g = got[t * rows + r];
      const float e = want[t * rows + r];
      if (!(std::fabs(double{g} - e) <= 1e-5 * magnitude + 1e-30) && ++failures <= 5) {
        ADD_FAILURE() << what << " t=" << t << " r=" << r << ": got " << g << ", want " << e
                      << " (sum |x||w| = " << magnitude << ")";
      }
    }
  }
  EXPECT_EQ(failures, 0) << what;
}

std::vector<CpuIsa> SupportedIsas() {
  std::vector<CpuIsa> isas;
  for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    if (IsaSupported(isa)) isas.push_back(isa);
  }
  return isas;
}

void CheckShape(std::size_t n, std::size_t rows, std::size_t cols, WeightType type) {
  const Inputs in = RandomInputs(n, rows, cols, type);
  const std::vector<float> want = RunVariant(CpuIsa::kScalar, in, n, rows, cols, type);
  // The reference itself against double precision.
  std::vector<float> exact(n * rows);
  for (std::size_t t = 0; t < n; ++t) {
    for (std::size_t r = 0; r < rows; ++r) {
      double sum = 0.0;
      for (std::size_t c = 0; c < cols; ++c) {
        sum += double{in.x[t * cols + c]} * in.w_as_f32[r * cols + c];
      }
      exact[t * rows + r] = static_cast<float>(sum);
    }
  }
  const std::string shape = "n=" + std::to_string(n) + " rows=" + std::to_string(rows) +
                            " cols=" + std::to_string(cols) + " " + TypeName(type);
  ExpectClose(want, exact, in, n, rows, cols, "scalar vs double " + shape);
  for (CpuIsa isa : SupportedIsas()) {
    if (isa == CpuIsa::kScalar) continue;
    ExpectClose(RunVariant(isa, in, n, rows, cols, type), want, in, n, rows, cols,
                std::string(IsaName(isa)) + " " + shape);
  }
}

class MatMulTest : public ::testing::TestWithParam<std::tuple<WeightType, std::size_t>> {};

TEST_P(MatMulTest, MatchesScalarReference) {
  const auto [type, n] = GetParam();
  for (std::size_t rows : {1, 3, 4, 5, 17, 64, 67}) {
    for (std::size_t cols : {1, 7, 8, 15, 16, 17, 31, 63, 64, 100, 257}) {
      CheckShape(n, rows, cols, type);
    }
  }
}

// Large enough to use the thread pool, several column passes (n = 512 splits the columns
// into passes of 256) and partial tiles at every edge.
TEST_P(MatMulTest, LargeShapes) {
  const auto [type, n] = GetParam();
  CheckShape(n, 203, 1100, type);
  if (n <= 33) CheckShape(n, 130, 5000, type);
  // n = 1 walks single rows while the activations fit L1 (cols <= 8192) and uses 4-row tiles
  // past that.
  if (n == 1) CheckShape(n, 37, 8192 + 17, type);
}

INSTANTIATE_TEST_SUITE_P(Shapes, MatMulTest,
                         ::testing::Combine(::testing::Values(WeightType::kF32, WeightType::kBf16,
                                                              WeightType::kF16),
                                            ::testing::Values<std::size_t>(1, 3, 8, 16, 33, 512)),
                         [](const auto& info) {
                           return TypeName(std::get<0>(info.param)) + "_n" +
                                  std::to_string(std::get<1>(info.param));
                         });

TEST(MatMulDispatchTest, DefaultEntryPointsUseDetectedIsa) {
  EXPECT_TRUE(IsaSupported(CpuIsa::kScalar));
  EXPECT_TRUE(IsaSupported(DetectedIsa()));
  const std::size_t n = 5, rows = 70, cols = 300;
  const Inputs f32 = RandomInputs(n, rows, cols, WeightType::kF32);
  std::vector<float> y(n * rows);
  MatMulF32(f32.x.data(), n, f32.w_f32.data(), rows, cols, y.data());
  EXPECT_EQ(y, RunVariant(DetectedIsa(), f32, n, rows, cols, WeightType::kF32));
  const Inputs bf16 = RandomInputs(n, rows, cols, WeightType::kBf16);
  MatMulBf16(bf16.x.data(), n, bf16.w_bf16.data(), rows, cols, y.data());
  EXPECT_EQ(y, RunVariant(DetectedIsa(), bf16, n, rows, cols, WeightType::kBf16));
  const Inputs f16 = RandomInputs(n, rows, cols, WeightType::kF16);
  MatMulF16(f16.x.data(), n, f16.w_bf16.data(), rows, cols, y.data());
  EXPECT_EQ(y, RunVariant(DetectedIsa(), f16, n, rows, cols, WeightType::kF16));
}

TEST(MatMulDispatchTest, EmptyColumnsGiveZeros) {
  for (CpuIsa isa : SupportedIsas()) {
    const float x[2] = {};
    const float w[3] = {};
    std::vector<float> y(6, 1.0f);
    MatMulF32Isa(isa, x, 2, w, 3, 0, y.data());
    EXPECT_EQ(y, std::vector<float>(6, 0.0f)) << IsaName(isa);
    const std::uint16_t w16[3] = {};
    y.assign(6, 1.0f);
    MatMulBf16Isa(isa, x, 2, w16, 3, 0, y.data());
    EXPECT_EQ(y, std::vector<float>(6, 0.0f)) << IsaName(isa) << " bf16";
    y.assign(6, 1.0f);
    MatMulF16Isa(isa, x, 2, w16, 3, 0, y.data());
    EXPECT_EQ(y, std::vector<float>(6, 0.0f)) << IsaName(isa) << " f16";
  }
}

}  // namespace
}  // namespace ghost::kernels
