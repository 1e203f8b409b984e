#include "kernels/cuda/cuda_device.h"

#include <cstddef>
#include <vector>

#include "gtest/gtest.h"

namespace ghost::kernels {
namespace {

TEST(CudaDeviceTest, CompiledIffNvccWasFound) {
  EXPECT_EQ(CudaCompiled(), GHOST_EXPECT_CUDA_COMPILED != 0);
}

TEST(CudaDeviceTest, NoDeviceIsReportedNotFatal) {
  if (CudaDeviceCount() > 0) GTEST_SKIP() << "a CUDA device is present: " << CudaDeviceName();
  EXPECT_EQ(CudaDeviceName(), "");
  const float a[1] = {1.0f}, b[1] = {2.0f};
  float out[1] = {0.0f};
  EXPECT_NE(CudaVectorAdd(a, b, out, 1), "");
}

TEST(CudaDeviceTest, VectorAddMatchesCpu) {
  if (CudaDeviceCount() == 0) {
    GTEST_SKIP() << "no CUDA device (compiled with CUDA: " << (CudaCompiled() ? "yes" : "no")
                 << ")";
  }
  const std::size_t n = (std::size_t{1} << 20) + 3;  // Not a multiple of the block size.
  std::vector<float> a(n), b(n), out(n, -1.0f);
  for (std::size_t i = 0; i < n; ++i) {
    a[i] = static_cast<float>(i) * 0.5f;
    b[i] = 1.0f - static_cast<float>(i % 1000);
  }
  ASSERT_EQ(CudaVectorAdd(a.data(), b.data(), out.data(), n), "") << CudaDeviceName();
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], a[i] + b[i]) << i;
}

}  // namespace
}  // namespace ghost::kernels
