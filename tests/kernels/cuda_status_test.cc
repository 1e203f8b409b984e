// CUDA and cuBLAS errors become absl::Status values naming the call and file:line, and the RAII
// owners report a missing device as a Status instead of aborting. The no-device half runs on
// machines without a GPU; the device half skips there.
#include "kernels/cuda/cuda_status.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/cuda/cuda_device.h"
#include "kernels/cuda/cuda_memory.h"

namespace ghost::kernels::cuda {
namespace {

using ::testing::HasSubstr;

absl::Status FailingCall() {
  GHOST_CUDA_RETURN_IF_ERROR(cudaErrorMemoryAllocation);
  return absl::OkStatus();
}

TEST(CudaStatusTest, ErrorsNameTheCallAndWhere) {
  const absl::Status status = FailingCall();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("cudaErrorMemoryAllocation at "));
  EXPECT_THAT(status.message(), HasSubstr("cuda_status_test.cc:"));
  EXPECT_THAT(status.message(), HasSubstr("cudaErrorMemoryAllocation ("));

  EXPECT_EQ(internal::CudaStatus(cudaErrorNoDevice, "cudaSetDevice", "x.cu", 3).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(internal::CudaStatus(cudaErrorIllegalAddress, "k", "x.cu", 3).code(),
            absl::StatusCode::kInternal);
  EXPECT_TRUE(internal::CudaStatus(cudaSuccess, "k", "x.cu", 3).ok());
  const absl::Status blas =
      internal::BlasStatus(CUBLAS_STATUS_NOT_SUPPORTED, "cublasGemmEx", "gemm.cc", 12);
  EXPECT_EQ(blas.code(), absl::StatusCode::kUnimplemented);
  // The status's name once cuBLAS is open (it is opened with the first handle), its number before.
  EXPECT_THAT(blas.message(), HasSubstr("cublasGemmEx at gemm.cc:12: "));
}

TEST(CudaStatusTest, WithoutADeviceOwnersFailWithAStatus) {
  if (CudaDeviceCount() > 0) GTEST_SKIP() << "this machine has a CUDA device";
  EXPECT_FALSE(DeviceCount().ok());
  EXPECT_FALSE(SetDevice(0).ok());
  EXPECT_FALSE(DeviceBuffer::Allocate(1024).ok());
  EXPECT_FALSE(Stream::Create().ok());
  EXPECT_FALSE(Event::Create().ok());
  // Nothing to allocate is never an error.
  absl::StatusOr<DeviceBuffer> empty = DeviceBuffer::Allocate(0);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->data(), nullptr);
}

TEST(CudaStatusTest, OnADeviceOwnersWork) {
  if (CudaDeviceCount() == 0) GTEST_SKIP() << "no CUDA device on this machine";
  ASSERT_TRUE(SetDevice(0).ok());
  absl::StatusOr<Stream> stream = Stream::Create();
  ASSERT_TRUE(stream.ok()) << stream.status();
  absl::StatusOr<DeviceBuffer> buffer = DeviceBuffer::Allocate(1 << 20);
  absl::StatusOr<PinnedBuffer> pinned = PinnedBuffer::Allocate(1 << 20);
  ASSERT_TRUE(buffer.ok() && pinned.ok());
  static_cast<char*>(pinned->data())[12345] = 42;
  ASSERT_TRUE(CopyToDevice(buffer->data(), pinned->data(), 1 << 20, stream->handle()).ok());
  ASSERT_TRUE(ZeroOnDevice(pinned->data(), 0, stream->handle()).ok());
  static_cast<char*>(pinned->data())[12345] = 0;
  ASSERT_TRUE(stream->Synchronize().ok());
  ASSERT_TRUE(CopyToHost(pinned->data(), buffer->data(), 1 << 20, stream->handle()).ok());
  ASSERT_TRUE(stream->Synchronize().ok());
  EXPECT_EQ(static_cast<char*>(pinned->data())[12345], 42);
  // An impossible allocation is RESOURCE_EXHAUSTED, not an abort.
  EXPECT_EQ(DeviceBuffer::Allocate(std::size_t{1} << 50).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(RuntimeVersion().empty());
}

}  // namespace
}  // namespace ghost::kernels::cuda
