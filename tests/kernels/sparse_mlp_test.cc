// The row-packed sparse MLP against the dense computation (every neuron, zeros included)
// in fp64, for every weight format of up and down_t, every CPU variant, several sparsities.
#include "kernels/cpu/sparse_mlp.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/compress/quantized_matrix.h"
#include "gtest/gtest.h"
#include "tests/kernels/random_quant_matrix.h"

namespace ghost::kernels {
namespace {

constexpr std::size_t kHidden = 100;  // Not a multiple of any block or vector width.
constexpr std::size_t kInner = 300;

enum class Format { kF32, kBf16, kTernary2Bit, kTernaryBase3, kCodebook2Bit };
constexpr Format kFormats[] = {Format::kF32, Format::kBf16, Format::kTernary2Bit,
                               Format::kTernaryBase3, Format::kCodebook2Bit};

const char* FormatName(Format f) {
  switch (f) {
    case Format::kF32:
      return "f32";
    case Format::kBf16:
      return "bf16";
    case Format::kTernary2Bit:
      return "ternary-2bit";
    case Format::kTernaryBase3:
      return "ternary-base3";
    case Format::kCodebook2Bit:
      return "codebook-2bit";
  }
  return "?";
}

// An [inner, hidden] matrix in one format, and its exact values.
struct Matrix {
  Format format;
  std::vector<float> f32;
  std::vector<std::uint16_t> bf16;
  std::unique_ptr<QuantWeights> quant;
  std::vector<float> dense;

  MlpWeights weights() const {
    MlpWeights w;
    if (format == Format::kF32) w.f32 = f32.data();
    if (format == Format::kBf16) w.bf16 = bf16.data();
    w.quant = quant.get();
    return w;
  }
};

Matrix RandomMatrix(Format format, std::mt19937& rng) {
  Matrix m;
  m.format = format;
  std::normal_distribution<float> normal(0.0f, 0.05f);
  m.dense.resize(kInner * kHidden);
  if (format == Format::kF32) {
    for (float& v : m.dense) v = normal(rng);
    m.f32 = m.dense;
  } else if (format == Format::kBf16) {
    for (float& v : m.dense) {
      m.bf16.push_back(F32ToBf16(normal(rng)));
      v = Bf16ToF32(m.bf16.back());
    }
  } else {
    const QuantKind kind = format == Format::kTernary2Bit    ? QuantKind::kTernary2Bit
                           : format == Format::kTernaryBase3 ? QuantKind::kTernaryBase3
                                                             : QuantKind::kCodebook2Bit;
    const compress::QuantizedMatrix q = testing::RandomQuantMatrix(kind, kInner, kHidden, 32, rng);
    m.quant = std::make_unique<QuantWeights>(QuantWeights::Prepare(testing::ViewOf(q, kind)));
    m.dense = compress::Dequantize(q);
  }
  return m;
}

TEST(GatherActiveTest, ListsNonZeroIndicesInOrder) {
  std::mt19937 rng(std::random_device{}());
  std::bernoulli_distribution zero(0.6);
  std::vector<float> h(1000);
  std::vector<std::uint32_t> expected;
  for (std::size_t j = 0; j < h.size(); ++j) {
    h[j] = zero(rng) ? 0.0f : 1.0f + static_cast<float>(j);
    if (h[j] != 0.0f) expected.push_back(static_cast<std::uint32_t>(j));
  }
  h[999] = -0.0f;  // Negative zero is inactive too.
  if (!expected.empty() && expected.back() == 999) expected.pop_back();
  std::vector<std::uint32_t> active(h.size());
  active.resize(GatherActive(h.data(), h.size(), active.data()));
  EXPECT_EQ(active, expected);
}

TEST(SparseMlpTest, MatchesDenseComputationForEveryFormatAndVariant) {
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (Format up_format : kFormats) {
    const Matrix up = RandomMatrix(up_format, rng);
    for (Format down_format : kFormats) {
      const Matrix down_t = RandomMatrix(down_format, rng);
      for (double sparsity : {0.0, 0.5, 0.9, 1.0}) {
        const std::size_t n = sparsity == 0.5 ? 3 : 1;
        std::bernoulli_distribution inactive(sparsity);
        std::vector<float> x(n * kHidden);
        std::vector<float> h(n * kInner);
        for (float& v : x) v = normal(rng);
        for (float& v : h) v = inactive(rng) ? 0.0f : normal(rng);

        for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
          if (!IsaSupported(isa)) continue;
          std::vector<float> out(n * kHidden, NAN);
          SparseMlpIsa(isa, x.data(), h.data(), n, kHidden, kInner, up.weights(), down_t.weights(),
                       out.data());
          for (std::size_t t = 0; t < n; ++t) {
            const float* xt = x.data() + t * kHidden;
            std::vector<double> exact(kHidden, 0.0);
            std::vector<double> bound(kHidden, 1e-6);
            for (std::size_t j = 0; j < kInner; ++j) {
              const double hj = h[t * kInner + j];
              double dot = 0;
              double dot_magnitude = 0;
              for (std::size_t c = 0; c < kHidden; ++c) {
                dot += double{xt[c]} * up.dense[j * kHidden + c];
                dot_magnitude += std::fabs(double{xt[c]} * up.dense[j * kHidden + c]);
              }
              // fp32 rounding, plus the int8-activation error where up is quantized.
              double dot_error = 1e-5 * dot_magnitude;
              if (up.quant) {
                dot_error += testing::Int8DotErrorBound(*up.quant, j, &up.dense[j * kHidden], xt);
              }
              for (std::size_t c = 0; c < kHidden; ++c) {
                const double d = down_t.dense[j * kHidden + c];
                exact[c] += hj * dot * d;
                bound[c] += std::fabs(hj * d) * (dot_error + 1e-5 * std::fabs(dot));
              }
            }
            for (std::size_t c = 0; c < kHidden; ++c) {
              ASSERT_NEAR(out[t * kHidden + c], exact[c], bound[c])
                  << IsaName(isa) << " up " << FormatName(up_format) << " down_t "
                  << FormatName(down_format) << " sparsity " << sparsity << " t=" << t
                  << " c=" << c;
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace ghost::kernels
