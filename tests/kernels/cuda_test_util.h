// Helpers of the CUDA kernel tests: skipping without a device, host<->device copies that fail the
// test with the Status, and device copies of weight matrices for the kernels' DeviceWeights. The
// tests compare each kernel with the CPU scalar reference (or engine/compress's decoder).
#ifndef GHOST_TESTS_KERNELS_CUDA_TEST_UTIL_H_
#define GHOST_TESTS_KERNELS_CUDA_TEST_UTIL_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "engine/compress/quantized_matrix.h"
#include "gtest/gtest.h"
#include "kernels/cuda/cuda_device.h"
#include "kernels/cuda/cuda_memory.h"
#include "kernels/cuda/device_weights.h"

namespace ghost::kernels::cuda::testing {

// In a test body: skips with the reason when this machine has no CUDA device.
#define GHOST_SKIP_WITHOUT_CUDA_DEVICE()                                            \
  do {                                                                              \
    if (::ghost::kernels::CudaDeviceCount() == 0) {                                 \
      GTEST_SKIP() << "no CUDA device on this machine (binary compiled with CUDA: " \
                   << (::ghost::kernels::CudaCompiled() ? "yes" : "no")             \
                   << "); this test runs on a GPU machine (tools/gpu/check.sh)";    \
    }                                                                               \
  } while (false)

// A device copy of `values`.
template <typename T>
DeviceBuffer ToDevice(const std::vector<T>& values) {
  absl::StatusOr<DeviceBuffer> buffer = DeviceBuffer::Allocate(values.size() * sizeof(T));
  EXPECT_TRUE(buffer.ok()) << buffer.status();
  if (!buffer.ok()) return DeviceBuffer();
  EXPECT_TRUE(CopyToDevice(buffer->data(), values.data(), values.size() * sizeof(T), nullptr).ok());
  return *std::move(buffer);
}

// `count` values of device memory, after waiting for everything issued on the legacy stream
// (the tests launch on it) and checking it ran without error.
template <typename T>
std::vector<T> ToHost(const void* device, std::size_t count) {
  std::vector<T> values(count);
  EXPECT_TRUE(CopyToHost(values.data(), device, count * sizeof(T), nullptr).ok());
  const absl::Status done = Stream().Synchronize();
  EXPECT_TRUE(done.ok()) << done;
  return values;
}

// A weight matrix in device memory and its descriptor.
struct DeviceMatrix {
  DeviceBuffer data, scales, codebook;
  DeviceWeights weights;
};

inline DeviceMatrix UploadQuant(const compress::QuantizedMatrix& m) {
  DeviceMatrix out;
  out.data = ToDevice(m.codes);
  out.scales = ToDevice(m.scales);
  if (!m.codebook.empty()) out.codebook = ToDevice(m.codebook);
  out.weights.format = m.format;
  out.weights.rows = m.rows;
  out.weights.cols = m.cols;
  out.weights.data = out.data.data();
  out.weights.block_size = m.block_size;
  out.weights.scales = out.scales.as<std::uint16_t>();
  out.weights.codebook = m.codebook.empty() ? nullptr : out.codebook.as<std::uint16_t>();
  out.weights.codebook_group_rows = m.codebook.empty() ? 0 : m.codebook_group_rows;
  return out;
}

// A dense matrix: fp32 values, or 16-bit bits for bf16 / f16.
template <typename T>
DeviceMatrix UploadDense(WeightFormat format, const std::vector<T>& values, std::size_t rows,
                         std::size_t cols) {
  DeviceMatrix out;
  out.data = ToDevice(values);
  out.weights.format = format;
  out.weights.rows = rows;
  out.weights.cols = cols;
  out.weights.data = out.data.data();
  return out;
}

// Standard normal values.
inline std::vector<float> Normal(std::size_t count, std::mt19937& rng, float stddev = 1.0f) {
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> values(count);
  for (float& v : values) v = normal(rng);
  return values;
}

// Largest |a - b| / (|b| + floor) over the values, for relative-error bounds that tolerate
// values near zero.
inline double MaxRelativeError(const std::vector<float>& a, const std::vector<float>& b,
                               double floor) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    worst = std::max(worst, std::fabs(double{a[i]} - b[i]) / (std::fabs(double{b[i]}) + floor));
  }
  return a.size() == b.size() ? worst : INFINITY;
}

}  // namespace ghost::kernels::cuda::testing

#endif  // GHOST_TESTS_KERNELS_CUDA_TEST_UTIL_H_
