// RMSNorm (alone and fused with the residual add), RoPE and SiLU-mul: the scalar reference
// against float64, and every other variant this CPU supports against the scalar one, on
// fresh random inputs whose lengths are not multiples of the vector widths.
#include "kernels/cpu/elementwise.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ghost::kernels {
namespace {

std::vector<float> Normal(std::size_t count, std::mt19937& rng, float stddev = 1.0f) {
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> out(count);
  for (float& v : out) v = normal(rng);
  return out;
}

std::mt19937 FreshRng() { return std::mt19937(std::random_device{}()); }

// |got - want| <= relative * |want| + absolute, element by element.
void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, double relative,
                 double absolute, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  int failures = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double bound = relative * std::fabs(double{want[i]}) + absolute;
    if (!(std::fabs(double{got[i]} - want[i]) <= bound) && ++failures <= 5) {
      ADD_FAILURE() << what << " [" << i << "]: got " << got[i] << ", want " << want[i];
    }
  }
  EXPECT_EQ(failures, 0) << what;
}

const CpuIsa kSimdIsas[] = {CpuIsa::kAvx2, CpuIsa::kAvx512};

constexpr std::size_t kDims[] = {1, 2, 7, 15, 16, 17, 64, 80, 100, 2053};

std::vector<float> ExactRmsNorm(const std::vector<float>& x, std::size_t n, std::size_t dim,
                                const std::vector<float>& weight, double eps) {
  std::vector<float> out(n * dim);
  for (std::size_t t = 0; t < n; ++t) {
    double squares = 0;
    for (std::size_t i = 0; i < dim; ++i) squares += double{x[t * dim + i]} * x[t * dim + i];
    const double scale = 1.0 / std::sqrt(squares / dim + eps);
    for (std::size_t i = 0; i < dim; ++i) {
      out[t * dim + i] = static_cast<float>(x[t * dim + i] * scale * weight[i]);
    }
  }
  return out;
}

TEST(ElementwiseTest, RmsNorm) {
  std::mt19937 rng = FreshRng();
  constexpr float kEps = 1e-5f;
  for (std::size_t n : {1, 3}) {
    for (std::size_t dim : kDims) {
      const std::vector<float> x = Normal(n * dim, rng, 3.0f);
      const std::vector<float> weight = Normal(dim, rng);
      const std::string shape = "n=" + std::to_string(n) + " dim=" + std::to_string(dim);
      std::vector<float> want(n * dim);
      ElementwiseKernelsFor(CpuIsa::kScalar)
          .rms_norm(x.data(), n, dim, weight.data(), kEps, want.data());
      ExpectClose(want, ExactRmsNorm(x, n, dim, weight, kEps), 1e-5, 0, "scalar " + shape);
      for (CpuIsa isa : kSimdIsas) {
        if (!IsaSupported(isa)) continue;
        std::vector<float> got(n * dim);
        ElementwiseKernelsFor(isa).rms_norm(x.data(), n, dim, weight.data(), kEps, got.data());
        ExpectClose(got, want, 1e-5, 0, std::string(IsaName(isa)) + " " + shape);
      }
    }
  }
}

TEST(ElementwiseTest, AddRmsNormUpdatesTheResidualStream) {
  std::mt19937 rng = FreshRng();
  constexpr float kEps = 1e-6f;
  for (std::size_t n : {1, 4}) {
    for (std::size_t dim : kDims) {
      const std::vector<float> x = Normal(n * dim, rng);
      const std::vector<float> residual = Normal(n * dim, rng);
      const std::vector<float> weight = Normal(dim, rng);
      std::vector<float> sum(n * dim);
      for (std::size_t i = 0; i < sum.size(); ++i) sum[i] = x[i] + residual[i];
      const std::vector<float> exact = ExactRmsNorm(sum, n, dim, weight, kEps);
      const std::string shape = "n=" + std::to_string(n) + " dim=" + std::to_string(dim);
      for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
        if (!IsaSupported(isa)) continue;
        std::vector<float> stream = x;
        std::vector<float> out(n * dim);
        ElementwiseKernelsFor(isa).add_rms_norm(stream.data(), residual.data(), n, dim,
                                                weight.data(), kEps, out.data());
        EXPECT_EQ(stream, sum) << IsaName(isa) << " " << shape;
        ExpectClose(out, exact, 1e-5, 0, std::string(IsaName(isa)) + " " + shape);
      }
    }
  }
}

TEST(ElementwiseTest, RopeRotatesQueriesAndKeys) {
  std::mt19937 rng = FreshRng();
  std::uniform_real_distribution<double> angle(-100.0, 100.0);
  for (std::size_t head_dim : {2, 6, 30, 64, 72, 80, 128}) {
    const std::size_t half = head_dim / 2;
    std::vector<float> cos(half), sin(half);
    for (std::size_t i = 0; i < half; ++i) {
      const double a = angle(rng);
      cos[i] = static_cast<float>(std::cos(a));
      sin[i] = static_cast<float>(std::sin(a));
    }
    const std::size_t q_heads = 8, k_heads = 3;
    const std::vector<float> q = Normal(q_heads * head_dim, rng);
    const std::vector<float> k = Normal(k_heads * head_dim, rng);
    auto rotate = [&](std::vector<float> heads) {
      for (std::size_t h = 0; h < heads.size() / head_dim; ++h) {
        float* x = &heads[h * head_dim];
        for (std::size_t i = 0; i < half; ++i) {
          const double x1 = x[i], x2 = x[i + half];
          x[i] = static_cast<float>(x1 * cos[i] - x2 * sin[i]);
          x[i + half] = static_cast<float>(x2 * cos[i] + x1 * sin[i]);
        }
      }
      return heads;
    };
    const std::vector<float> want_q = rotate(q), want_k = rotate(k);
    for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
      if (!IsaSupported(isa)) continue;
      std::vector<float> got_q = q, got_k = k;
      ElementwiseKernelsFor(isa).rope_qk(got_q.data(), q_heads, got_k.data(), k_heads, head_dim,
                                         cos.data(), sin.data());
      const std::string what = std::string(IsaName(isa)) + " head_dim=" + std::to_string(head_dim);
      ExpectClose(got_q, want_q, 0, 1e-5, what + " q");
      ExpectClose(got_k, want_k, 0, 1e-5, what + " k");
    }
  }
}

TEST(ElementwiseTest, SiluMul) {
  std::mt19937 rng = FreshRng();
  for (std::size_t count : {1, 7, 15, 16, 17, 33, 1003}) {
    std::vector<float> gate = Normal(count, rng, 6.0f);
    const std::vector<float> up = Normal(count, rng);
    // The clamped ends of the exponential and zero.
    const float edges[] = {0.0f, -100.0f, 100.0f, -87.5f, 88.5f, -1e-8f};
    for (std::size_t i = 0; i < count && i < std::size(edges); ++i) gate[count - 1 - i] = edges[i];
    std::vector<float> exact(count);
    for (std::size_t i = 0; i < count; ++i) {
      exact[i] = static_cast<float>(gate[i] / (1.0 + std::exp(-double{gate[i]})) * up[i]);
    }
    std::vector<float> reference = gate;
    ElementwiseKernelsFor(CpuIsa::kScalar).silu_mul(reference.data(), up.data(), count);
    const std::string shape = "count=" + std::to_string(count);
    ExpectClose(reference, exact, 1e-6, 1e-30, "scalar " + shape);
    for (CpuIsa isa : kSimdIsas) {
      if (!IsaSupported(isa)) continue;
      std::vector<float> got = gate;
      ElementwiseKernelsFor(isa).silu_mul(got.data(), up.data(), count);
      ExpectClose(got, reference, 1e-6, 1e-30, std::string(IsaName(isa)) + " " + shape);
    }
  }
}

TEST(ElementwiseTest, SiluGate) {
  std::mt19937 rng = FreshRng();
  for (std::size_t count : {1, 7, 16, 17, 1003}) {
    for (float threshold : {-1.0f, 0.0f, 0.3f, 2.0f}) {
      const std::vector<float> gate = Normal(count, rng, 3.0f);
      for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
        if (!IsaSupported(isa)) continue;
        std::vector<float> got = gate;
        const std::size_t kept = ElementwiseKernelsFor(isa).silu_gate(got.data(), count, threshold);
        std::size_t nonzero = 0;
        const std::string what = std::string(IsaName(isa)) + " count=" + std::to_string(count) +
                                 " threshold=" + std::to_string(threshold);
        for (std::size_t i = 0; i < count; ++i) {
          const double silu = gate[i] / (1.0 + std::exp(-double{gate[i]}));
          nonzero += got[i] != 0.0f ? 1 : 0;
          // Values within rounding of the threshold may go either way.
          if (std::fabs(silu) > threshold * (1 + 1e-5) + 1e-30) {
            EXPECT_NEAR(got[i], silu, 1e-6 * std::fabs(silu) + 1e-30) << what << " i=" << i;
          } else if (std::fabs(silu) < threshold * (1 - 1e-5)) {
            EXPECT_EQ(got[i], 0.0f) << what << " i=" << i;
          }
        }
        EXPECT_EQ(kept, threshold < 0 ? count : nonzero) << what;
      }
    }
  }
}

TEST(ElementwiseTest, DefaultEntryPointsUseDetectedIsa) {
  std::mt19937 rng = FreshRng();
  const ElementwiseKernels& detected = ElementwiseKernelsFor(DetectedIsa());
  const std::size_t dim = 70;
  const std::vector<float> x = Normal(2 * dim, rng), weight = Normal(dim, rng);
  std::vector<float> got(2 * dim), want(2 * dim);
  RmsNorm(x.data(), 2, dim, weight.data(), 1e-5f, got.data());
  detected.rms_norm(x.data(), 2, dim, weight.data(), 1e-5f, want.data());
  EXPECT_EQ(got, want);
  std::vector<float> gate = x, gate_want = x;
  SiluMul(gate.data(), weight.data(), dim);
  detected.silu_mul(gate_want.data(), weight.data(), dim);
  EXPECT_EQ(gate, gate_want);
  gate = x;
  gate_want = x;
  EXPECT_EQ(SiluGate(gate.data(), dim, 0.2f), detected.silu_gate(gate_want.data(), dim, 0.2f));
  EXPECT_EQ(gate, gate_want);
}

}  // namespace
}  // namespace ghost::kernels
