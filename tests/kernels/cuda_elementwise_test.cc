// The CUDA element-wise kernels (kernels/cuda/elementwise.h) against the CPU scalar kernels on
// random rows of awkward widths. Skips without a CUDA device.
#include <cstdint>
#include <random>
#include <vector>

#include "engine/compress/fp16.h"
#include "engine/compress/quantized_matrix.h"
#include "gtest/gtest.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cuda/elementwise.h"
#include "tests/kernels/cuda_test_util.h"
#include "tests/kernels/random_quant_matrix.h"

namespace ghost::kernels::cuda {
namespace {

using testing::MaxRelativeError;
using testing::Normal;
using testing::ToDevice;
using testing::ToHost;

const ElementwiseKernels& Scalar() { return ElementwiseKernelsFor(CpuIsa::kScalar); }

// Row widths: one lane's worth, odd, one block plus one, a model's.
constexpr std::size_t kDims[] = {1, 7, 257, 4096};

TEST(CudaElementwiseTest, RmsNormAndAddRmsNormMatchCpu) {
  GHOST_SKIP_WITHOUT_CUDA_DEVICE();
  std::mt19937 rng(1);
  for (std::size_t dim : kDims) {
    const std::size_t n = 5;
    std::vector<float> x = Normal(n * dim, rng), residual = Normal(n * dim, rng);
    const std::vector<float> weight = Normal(dim, rng);
    std::vector<float> want(n * dim), want_x = x;
    Scalar().rms_norm(x.data(), n, dim, weight.data(), 1e-5f, want.data());
    DeviceBuffer dx = ToDevice(x), dres = ToDevice(residual), dw = ToDevice(weight);
    DeviceBuffer dout = ToDevice(std::vector<float>(n * dim));
    ASSERT_TRUE(
        RmsNorm(dx.as<float>(), nullptr, n, dim, dw.as<float>(), 1e-5f, dout.as<float>(), nullptr)
            .ok());
    EXPECT_LT(MaxRelativeError(ToHost<float>(dout.data(), n * dim), want, 1e-3), 1e-5) << dim;

    // The fused add over a gathered subset of rows, as the logits pass uses it.
    const std::vector<std::int32_t> rows = {4, 1};
    std::vector<float> want_rows(rows.size() * dim);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      Scalar().add_rms_norm(want_x.data() + rows[i] * dim, residual.data() + rows[i] * dim, 1, dim,
                            weight.data(), 1e-5f, want_rows.data() + i * dim);
    }
    DeviceBuffer drows = ToDevice(rows);
    ASSERT_TRUE(AddRmsNorm(dx.as<float>(), dres.as<float>(), drows.as<std::int32_t>(), rows.size(),
                           dim, dw.as<float>(), 1e-5f, dout.as<float>(), nullptr)
                    .ok());
    EXPECT_LT(MaxRelativeError(ToHost<float>(dout.data(), rows.size() * dim), want_rows, 1e-3),
              1e-5)
        << dim;
    EXPECT_LT(MaxRelativeError(ToHost<float>(dx.data(), n * dim), want_x, 1e-6), 1e-6) << dim;
  }
}

TEST(CudaElementwiseTest, SiluMulSiluGateMultiplyAndBiasMatchCpu) {
  GHOST_SKIP_WITHOUT_CUDA_DEVICE();
  std::mt19937 rng(2);
  for (std::size_t count : {std::size_t{1}, std::size_t{1000}, std::size_t{3 * 14336 + 5}}) {
    const std::vector<float> gate = Normal(count, rng, 3.0f), up = Normal(count, rng);
    std::vector<float> want = gate;
    Scalar().silu_mul(want.data(), up.data(), count);
    DeviceBuffer dg = ToDevice(gate), du = ToDevice(up);
    ASSERT_TRUE(SiluMul(dg.as<float>(), du.as<float>(), count, nullptr).ok());
    EXPECT_LT(MaxRelativeError(ToHost<float>(dg.data(), count), want, 1e-4), 1e-5) << count;

    std::vector<float> gated = gate;
    const std::size_t want_kept = Scalar().silu_gate(gated.data(), count, 0.3f);
    DeviceBuffer dgate = ToDevice(gate);
    DeviceBuffer counter = ToDevice(std::vector<unsigned long long>{0});
    ASSERT_TRUE(
        SiluGate(dgate.as<float>(), count, 0.3f, counter.as<unsigned long long>(), nullptr).ok());
    const std::vector<float> got = ToHost<float>(dgate.data(), count);
    // A value within rounding of the threshold may fall either way; none is that close here
    // unless by chance, so the count and the zeros must agree exactly.
    EXPECT_EQ(ToHost<unsigned long long>(counter.data(), 1)[0], want_kept) << count;
    for (std::size_t i = 0; i < count; ++i) ASSERT_EQ(got[i] == 0.0f, gated[i] == 0.0f) << i;
    EXPECT_LT(MaxRelativeError(got, gated, 1e-4), 1e-5);

    std::vector<float> product = gate;
    for (std::size_t i = 0; i < count; ++i) product[i] *= up[i];
    DeviceBuffer da = ToDevice(gate);
    ASSERT_TRUE(Multiply(da.as<float>(), du.as<float>(), count, nullptr).ok());
    EXPECT_EQ(ToHost<float>(da.data(), count), product);
  }
  const std::size_t n = 3, cols = 33;
  const std::vector<float> y = Normal(n * cols, rng), bias = Normal(cols, rng);
  std::vector<float> want = y;
  for (std::size_t i = 0; i < n * cols; ++i) want[i] += bias[i % cols];
  DeviceBuffer dy = ToDevice(y), db = ToDevice(bias);
  ASSERT_TRUE(AddBias(dy.as<float>(), db.as<float>(), n, cols, nullptr).ok());
  EXPECT_EQ(ToHost<float>(dy.data(), n * cols), want);
}

TEST(CudaElementwiseTest, EmbedEveryFormatMatchesTheDecoder) {
  GHOST_SKIP_WITHOUT_CUDA_DEVICE();
  std::mt19937 rng(3);
  const std::size_t rows = 11, cols = 70;  // 70: a short last block for every block size
  const std::vector<std::int32_t> tokens = {0, 10, 3, 3, 7};
  DeviceBuffer dtokens = ToDevice(tokens);
  DeviceBuffer dout = ToDevice(std::vector<float>(tokens.size() * cols));
  const auto check = [&](const DeviceWeights& table, const std::vector<float>& dense) {
    ASSERT_TRUE(
        Embed(table, dtokens.as<std::int32_t>(), tokens.size(), dout.as<float>(), nullptr).ok());
    const std::vector<float> got = ToHost<float>(dout.data(), tokens.size() * cols);
    for (std::size_t t = 0; t < tokens.size(); ++t) {
      for (std::size_t c = 0; c < cols; ++c) {
        ASSERT_EQ(got[t * cols + c], dense[tokens[t] * cols + c])
            << WeightFormatName(table.format) << " token " << t << " col " << c;
      }
    }
  };
  const std::vector<float> f32 = Normal(rows * cols, rng);
  testing::DeviceMatrix f32_table = testing::UploadDense(WeightFormat::kF32, f32, rows, cols);
  check(f32_table.weights, f32);
  std::vector<std::uint16_t> bf16(rows * cols), f16(rows * cols);
  std::vector<float> bf16_values(rows * cols), f16_values(rows * cols);
  for (std::size_t i = 0; i < rows * cols; ++i) {
    bf16[i] = F32ToBf16(f32[i]);
    bf16_values[i] = Bf16ToF32(bf16[i]);
    f16[i] = compress::F32ToF16(f32[i]);
    f16_values[i] = F16ToF32(f16[i]);
  }
  check(testing::UploadDense(WeightFormat::kBF16, bf16, rows, cols).weights, bf16_values);
  check(testing::UploadDense(WeightFormat::kF16, f16, rows, cols).weights, f16_values);
  for (WeightFormat format : kernels::testing::kLowBitFormats) {
    for (std::size_t block : kernels::testing::kBlockSizes) {
      const compress::QuantizedMatrix m =
          kernels::testing::RandomQuantMatrix(format, rows, cols, block, rng);
      check(testing::UploadQuant(m).weights, compress::Dequantize(m));
    }
  }
}

}  // namespace
}  // namespace ghost::kernels::cuda
