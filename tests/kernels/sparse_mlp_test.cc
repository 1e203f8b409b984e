// The row-packed sparse MLP against the dense computation (every neuron, zeros included)
// in fp64, for every weight format of up and down_t, every CPU variant, several sparsities.
#include "kernels/cpu/sparse_mlp.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/compress/fp16.h"
#include "engine/compress/quantized_matrix.h"
#include "gtest/gtest.h"
#include "kernels/cpu/quant_internal.h"
#include "tests/kernels/random_quant_matrix.h"

namespace ghost::kernels {
namespace {

constexpr std::size_t kHidden = 100;  // Not a multiple of any block or vector width.
constexpr std::size_t kInner = 300;

// An [inner, hidden] matrix in one format, and its exact values.
struct Matrix {
  WeightFormat format;
  std::vector<float> f32;
  std::vector<std::uint16_t> bf16;
  std::vector<std::uint16_t> f16;
  std::unique_ptr<QuantWeights> quant;
  std::vector<float> dense;

  MlpWeights weights() const {
    MlpWeights w;
    if (format == WeightFormat::kF32) w.f32 = f32.data();
    if (format == WeightFormat::kBF16) w.bf16 = bf16.data();
    if (format == WeightFormat::kF16) w.f16 = f16.data();
    w.quant = quant.get();
    return w;
  }
};

Matrix RandomMatrix(WeightFormat format, std::mt19937& rng) {
  Matrix m;
  m.format = format;
  std::normal_distribution<float> normal(0.0f, 0.05f);
  m.dense.resize(kInner * kHidden);
  if (format == WeightFormat::kF32) {
    for (float& v : m.dense) v = normal(rng);
    m.f32 = m.dense;
  } else if (format == WeightFormat::kBF16) {
    for (float& v : m.dense) {
      m.bf16.push_back(F32ToBf16(normal(rng)));
      v = Bf16ToF32(m.bf16.back());
    }
  } else if (format == WeightFormat::kF16) {
    for (float& v : m.dense) {
      m.f16.push_back(compress::F32ToF16(normal(rng)));
      v = F16ToF32(m.f16.back());
    }
  } else {
    const compress::QuantizedMatrix q =
        testing::RandomQuantMatrix(format, kInner, kHidden, 32, rng);
    m.quant = std::make_unique<QuantWeights>(QuantWeights::Prepare(testing::ViewOf(q)));
    m.dense = compress::Dequantize(q);
  }
  return m;
}

// Per output column, a bound on the AVX-512 integer AXPY's error (quant_avx512_axpy.h):
// each active row's factor coef * scale * step for a block is rounded to a multiple of S_b,
// the largest of them over 127, so a term is off by at most S_b / 2 times its stored code
// (at most 2 for ternary, 127 codebook steps).
std::vector<double> IntAxpyBound(const QuantWeights& down_t, const std::vector<double>& coefs) {
  std::vector<double> bound(kHidden, 0.0);
  for (std::size_t c = 0; c < kHidden; ++c) {
    const std::size_t block = c / down_t.block_size();
    double max_factor = 0.0;
    double max_code = 0.0;
    for (std::size_t j = 0; j < kInner; ++j) {
      const QuantCodebook* book = down_t.row_codebook(j);
      const double step = book ? book->step : 1.0;
      max_code = book ? 127.0 : 2.0;
      max_factor =
          std::max(max_factor, std::fabs(coefs[j] * F16ToF32(down_t.row_scales(j)[block]) * step));
    }
    for (std::size_t j = 0; j < kInner; ++j) {
      if (coefs[j] != 0.0) bound[c] += 0.5 * max_factor / 127.0 * max_code * 1.01;
    }
  }
  return bound;
}

// Both AVX-512 integer AXPYs (with and without VNNI) against the scalar float one, on
// scattered rows of every low-bit format, within IntAxpyBound.
TEST(SparseMlpTest, IntegerAxpyMatchesScalarWithinBound) {
  if (!IsaSupported(CpuIsa::kAvx512)) GTEST_SKIP() << "no AVX-512";
  std::mt19937 rng(std::random_device{}());
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (WeightFormat format : testing::kLowBitFormats) {
    const Matrix down_t = RandomMatrix(format, rng);
    const QuantWeights& w = *down_t.quant;
    std::vector<std::uint32_t> rows;
    std::vector<float> coefs;
    std::vector<double> dense_coefs(kInner, 0.0);
    for (std::uint32_t j = 0; j < kInner; ++j) {
      if (rng() % 3 == 0) continue;  // Inactive.
      rows.push_back(j);
      coefs.push_back(normal(rng));
      dense_coefs[j] = coefs.back();
    }
    const std::vector<double> bound = IntAxpyBound(w, dense_coefs);
    const std::size_t size = w.layout().activation_bytes;
    std::vector<float> expected(size, 0.0f);
    internal::QuantAxpyScalar(w, rows.data(), coefs.data(), rows.size(), expected.data());
    for (auto axpy : {internal::QuantAxpyAvx512, internal::QuantAxpyFor(CpuIsa::kAvx512)}) {
      std::vector<float> got(size, 0.0f);
      axpy(w, rows.data(), coefs.data(), rows.size(), got.data());
      for (std::size_t c = 0; c < kHidden; ++c) {
        const std::size_t p = internal::AxpyPosition(w.activation_positions()[c]);
        ASSERT_NEAR(got[p], expected[p], bound[c] + 1e-5 * (1 + std::fabs(expected[p])))
            << WeightFormatName(format) << " c=" << c;
      }
    }
  }
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
  for (const WeightFormatTraits& up_traits : kWeightFormats) {
    const WeightFormat up_format = up_traits.format;
    const Matrix up = RandomMatrix(up_format, rng);
    for (const WeightFormatTraits& down_traits : kWeightFormats) {
      const WeightFormat down_format = down_traits.format;
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
            std::vector<double> coefs(kInner);
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
              coefs[j] = hj * dot;
              for (std::size_t c = 0; c < kHidden; ++c) {
                const double d = down_t.dense[j * kHidden + c];
                exact[c] += hj * dot * d;
                bound[c] += std::fabs(hj * d) * (dot_error + 1e-5 * std::fabs(dot));
              }
            }
            if (isa == CpuIsa::kAvx512 && down_t.quant) {
              const std::vector<double> int_bound = IntAxpyBound(*down_t.quant, coefs);
              for (std::size_t c = 0; c < kHidden; ++c) bound[c] += int_bound[c];
            }
            for (std::size_t c = 0; c < kHidden; ++c) {
              ASSERT_NEAR(out[t * kHidden + c], exact[c], bound[c])
                  << IsaName(isa) << " up " << WeightFormatName(up_format) << " down_t "
                  << WeightFormatName(down_format) << " sparsity " << sparsity << " t=" << t
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
