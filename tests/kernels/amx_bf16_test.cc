// The AMX bf16 products split each activation into three bf16 terms and multiply in tiles:
// against the scalar reference (fp32 activations) they differ only by fp32 summation order,
// at row counts that are no multiple of the 16-row tile and token counts around the 16-token
// tile. Columns that are no multiple of the 32-column tile, few
// tokens, or AMX switched off give the AVX-512 kernels' results exactly. Skipped where the
// CPU or the OS does not offer AMX.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/matmul_internal.h"
#include "tests/kernels/amx_switch.h"

namespace ghost::kernels {
namespace {

using testing::AmxSwitch;

struct Problem {
  std::vector<float> x;          // [n, cols]
  std::vector<std::uint16_t> w;  // [rows, cols] bf16
  std::vector<float> w_f32;
};

Problem RandomProblem(std::size_t n, std::size_t rows, std::size_t cols, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  Problem p;
  p.x.resize(n * cols);
  for (float& v : p.x) v = normal(rng);
  p.w.resize(rows * cols);
  for (auto& v : p.w) v = F32ToBf16(0.05f * normal(rng));
  for (auto v : p.w) p.w_f32.push_back(Bf16ToF32(v));
  return p;
}

// |got - want| <= 1e-5 sum_c |x||w| for every output.
void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, const Problem& p,
                 std::size_t n, std::size_t rows, std::size_t cols, const std::string& what) {
  for (std::size_t t = 0; t < n; ++t) {
    for (std::size_t r = 0; r < rows; ++r) {
      double magnitude = 0;
      for (std::size_t c = 0; c < cols; ++c) {
        magnitude += std::fabs(double{p.x[t * cols + c]} * p.w_f32[r * cols + c]);
      }
      ASSERT_NEAR(got[t * rows + r], want[t * rows + r], 1e-5 * magnitude + 1e-30)
          << what << " t=" << t << " r=" << r;
    }
  }
}

TEST(AmxBf16Test, TileKernelMatchesScalar) {
  if (!AmxSupported()) GTEST_SKIP() << "no AMX on this CPU, or Linux refused the tile state";
  std::mt19937 rng(std::random_device{}());
  const struct {
    std::size_t rows, cols;
  } shapes[] = {{1, 32}, {16, 64}, {17, 96}, {37, 320}, {64, 1024}, {70, 2048}};
  for (const auto& shape : shapes) {
    for (std::size_t n : {1, 2, 7, 15, 16, 17, 31, 32, 33, 48, 64, 100}) {
      const Problem p = RandomProblem(n, shape.rows, shape.cols, rng);
      std::vector<float> want(n * shape.rows);
      MatMulBf16Isa(CpuIsa::kScalar, p.x.data(), n, p.w.data(), shape.rows, shape.cols,
                    want.data());
      // Dirty scratch: the packer must write every value the kernel reads.
      std::vector<std::uint16_t> storage(internal::AmxBf16ActivationValues(n, shape.cols) + 32,
                                         0x7fc1);
      auto* packed = reinterpret_cast<std::uint16_t*>(
          (reinterpret_cast<std::uintptr_t>(storage.data()) + 63) & ~std::uintptr_t{63});
      internal::PackBf16ActivationsAmx(p.x.data(), n, shape.cols, packed);
      std::vector<float> got(n * shape.rows, NAN);
      internal::MatMulBf16Amx(packed, n, p.w.data(), shape.rows, shape.cols, got.data(),
                              shape.rows);
      ExpectClose(got, want, p, n, shape.rows, shape.cols,
                  std::to_string(shape.rows) + "x" + std::to_string(shape.cols) +
                      " n=" + std::to_string(n));
    }
  }
}

// Through the public entry point, split over the pool.
TEST(AmxBf16Test, DispatchMatchesScalar) {
  if (!AmxSupported()) GTEST_SKIP() << "no AMX on this CPU, or Linux refused the tile state";
  const AmxSwitch restore;
  SetAmxEnabled(true);
  std::mt19937 rng(std::random_device{}());
  const std::size_t rows = 203, cols = 1024;
  for (std::size_t n : {8, 33, 64}) {
    const Problem p = RandomProblem(n, rows, cols, rng);
    std::vector<float> want(n * rows), got(n * rows, NAN);
    MatMulBf16Isa(CpuIsa::kScalar, p.x.data(), n, p.w.data(), rows, cols, want.data());
    MatMulBf16(p.x.data(), n, p.w.data(), rows, cols, got.data());
    ExpectClose(got, want, p, n, rows, cols, "n=" + std::to_string(n));
  }
}

// Where AMX does not apply, the AVX-512 kernel runs: bit for bit its result.
TEST(AmxBf16Test, OtherCallsGiveAvx512Kernel) {
  if (!IsaSupported(CpuIsa::kAvx512)) GTEST_SKIP() << "no AVX-512";
  const AmxSwitch restore;
  std::mt19937 rng(std::random_device{}());
  const struct {
    bool amx;
    std::size_t n, rows, cols;
  } cases[] = {{false, 32, 64, 512}, {true, 32, 64, 500}, {true, 7, 64, 512}};
  for (const auto& c : cases) {
    SetAmxEnabled(c.amx);
    const Problem p = RandomProblem(c.n, c.rows, c.cols, rng);
    std::vector<float> want(c.n * c.rows), got(c.n * c.rows, NAN);
    internal::MatMulBf16Avx512(p.x.data(), c.n, p.w.data(), c.rows, c.cols, want.data(), c.rows);
    MatMulBf16Isa(CpuIsa::kAvx512, p.x.data(), c.n, p.w.data(), c.rows, c.cols, got.data());
    for (std::size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], want[i]) << "amx " << c.amx << " n=" << c.n << " cols=" << c.cols;
    }
  }
}

}  // namespace
}  // namespace ghost::kernels
