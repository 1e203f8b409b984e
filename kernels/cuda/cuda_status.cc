#include "kernels/cuda/cuda_status.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/blas_library.h"

namespace ghost::kernels::cuda::internal {
namespace {

std::string Where(const char* call, const char* file, int line) {
  std::string path(file);
  // The repository-relative path reads better than the build machine's absolute one.
  if (const std::size_t at = path.rfind("kernels/cuda/"); at != std::string::npos) {
    path = path.substr(at);
  }
  return absl::StrCat(call, " at ", path, ":", line);
}

}  // namespace

absl::Status CudaStatus(cudaError_t error, const char* call, const char* file, int line) {
  if (error == cudaSuccess) return absl::OkStatus();
  cudaGetLastError();
  const std::string message = absl::StrCat(Where(call, file, line), ": ", cudaGetErrorName(error),
                                           " (", cudaGetErrorString(error), ")");
  switch (error) {
    case cudaErrorMemoryAllocation:
      return absl::ResourceExhaustedError(message);
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInvalidDevice:
    case cudaErrorDevicesUnavailable:
    case cudaErrorInitializationError:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status BlasStatus(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  const std::string message =
      internal::BlasIfOpen() == nullptr
          ? absl::StrCat(Where(call, file, line), ": cuBLAS status ", static_cast<int>(status))
          : absl::StrCat(Where(call, file, line), ": ", BlasIfOpen()->status_name(status), " (",
                         BlasIfOpen()->status_string(status), ")");
  switch (status) {
    case CUBLAS_STATUS_ALLOC_FAILED:
      return absl::ResourceExhaustedError(message);
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return absl::UnavailableError(message);
    case CUBLAS_STATUS_NOT_SUPPORTED:
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return absl::UnimplementedError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace ghost::kernels::cuda::internal
