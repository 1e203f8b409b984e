// The CUDA row-packed sparse MLP (kernels/cuda/sparse_mlp.h) against the sum written out in
// double over the reference weights (engine/compress's decoder for low-bit ones), for dense and
// low-bit weights, batches across its 64-token groups and inner sizes across its neuron chunks.
// Skips without a CUDA device.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "engine/compress/quantized_matrix.h"
#include "gtest/gtest.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cuda/sparse_mlp.h"
#include "tests/kernels/cuda_test_util.h"
#include "tests/kernels/random_quant_matrix.h"

namespace ghost::kernels::cuda {
namespace {

using testing::Normal;
using testing::ToDevice;
using testing::ToHost;

// h [n, inner] as SiluGate leaves it: about half the values zero, and every tenth neuron zero for
// every token (so that no row of it may be read).
std::vector<float> SparseGate(std::size_t n, std::size_t inner, std::mt19937& rng) {
  std::vector<float> h = Normal(n * inner, rng);
  std::bernoulli_distribution drop(0.5);
  for (std::size_t t = 0; t < n; ++t) {
    for (std::size_t j = 0; j < inner; ++j) {
      if (j % 10 == 0 || drop(rng)) h[t * inner + j] = 0.0f;
    }
  }
  return h;
}

void ExpectSparseMlp(const DeviceWeights& up, const std::vector<float>& up_w,
                     const DeviceWeights& down_t, const std::vector<float>& down_w, std::size_t n,
                     std::mt19937& rng) {
  const std::size_t inner = up.rows, hidden = up.cols;
  const std::vector<float> x = Normal(n * hidden, rng);
  const std::vector<float> h = SparseGate(n, inner, rng);
  DeviceBuffer dx = ToDevice(x), dh = ToDevice(h), dout = ToDevice(std::vector<float>(n * hidden));
  DeviceBuffer scratch;
  ASSERT_TRUE(SparseMlp(dx.as<float>(), dh.as<float>(), n, hidden, inner, up, down_t,
                        dout.as<float>(), scratch, nullptr)
                  .ok());
  const std::vector<float> got = ToHost<float>(dout.data(), n * hidden);
  for (std::size_t t = 0; t < n; ++t) {
    std::vector<double> want(hidden, 0.0), magnitude(hidden, 0.0);
    for (std::size_t j = 0; j < inner; ++j) {
      const double gate = h[t * inner + j];
      if (gate == 0.0) continue;
      double dot = 0;
      for (std::size_t c = 0; c < hidden; ++c)
        dot += double{up_w[j * hidden + c]} * x[t * hidden + c];
      for (std::size_t c = 0; c < hidden; ++c) {
        want[c] += gate * dot * down_w[j * hidden + c];
        magnitude[c] += std::fabs(gate * dot * down_w[j * hidden + c]);
      }
    }
    for (std::size_t c = 0; c < hidden; ++c) {
      ASSERT_NEAR(got[t * hidden + c], want[c], 1e-5 * magnitude[c] + 1e-6)
          << WeightFormatName(up.format) << " n=" << n << " t=" << t << " c=" << c;
    }
  }
}

TEST(CudaSparseMlpTest, DenseWeightsMatch) {
  GHOST_SKIP_WITHOUT_CUDA_DEVICE();
  std::mt19937 rng(1);
  const std::size_t hidden = 70, inner = 2100;  // 3 neuron chunks, the last one short
  const std::vector<float> up = Normal(inner * hidden, rng, 0.1f);
  const std::vector<float> down = Normal(inner * hidden, rng, 0.1f);
  std::vector<std::uint16_t> up_bf16(up.size()), down_bf16(down.size());
  std::vector<float> up_bf16_w(up.size()), down_bf16_w(down.size());
  for (std::size_t i = 0; i < up.size(); ++i) {
    up_bf16[i] = F32ToBf16(up[i]);
    up_bf16_w[i] = Bf16ToF32(up_bf16[i]);
    down_bf16[i] = F32ToBf16(down[i]);
    down_bf16_w[i] = Bf16ToF32(down_bf16[i]);
  }
  testing::DeviceMatrix dup = testing::UploadDense(WeightFormat::kF32, up, inner, hidden);
  testing::DeviceMatrix ddown = testing::UploadDense(WeightFormat::kF32, down, inner, hidden);
  testing::DeviceMatrix dup16 = testing::UploadDense(WeightFormat::kBF16, up_bf16, inner, hidden);
  testing::DeviceMatrix ddown16 =
      testing::UploadDense(WeightFormat::kBF16, down_bf16, inner, hidden);
  for (std::size_t n : {std::size_t{1}, std::size_t{5}, std::size_t{70}}) {
    ExpectSparseMlp(dup.weights, up, ddown.weights, down, n, rng);
    ExpectSparseMlp(dup16.weights, up_bf16_w, ddown16.weights, down_bf16_w, n, rng);
  }
}

TEST(CudaSparseMlpTest, LowBitWeightsMatch) {
  GHOST_SKIP_WITHOUT_CUDA_DEVICE();
  std::mt19937 rng(2);
  const std::size_t hidden = 96, inner = 1100;
  for (WeightFormat format : kernels::testing::kLowBitFormats) {
    for (std::size_t block : {std::size_t{16}, std::size_t{64}, std::size_t{256}}) {
      const compress::QuantizedMatrix up =
          kernels::testing::RandomQuantMatrix(format, inner, hidden, block, rng);
      const compress::QuantizedMatrix down =
          kernels::testing::RandomQuantMatrix(format, inner, hidden, block, rng);
      testing::DeviceMatrix dup = testing::UploadQuant(up);
      testing::DeviceMatrix ddown = testing::UploadQuant(down);
      for (std::size_t n : {std::size_t{1}, std::size_t{9}}) {
        ExpectSparseMlp(dup.weights, compress::Dequantize(up), ddown.weights,
                        compress::Dequantize(down), n, rng);
      }
    }
  }
}

}  // namespace
}  // namespace ghost::kernels::cuda
