// CUDA and cuBLAS errors as absl::Status, for the kernels/cuda layer's own files: every runtime
// or library call is checked, and a failure comes back naming the call and the file:line that
// made it, never as an abort. This header includes CUDA headers; nothing outside kernels/cuda
// includes it.
#ifndef GHOST_KERNELS_CUDA_CUDA_STATUS_H_
#define GHOST_KERNELS_CUDA_CUDA_STATUS_H_

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "absl/status/status.h"

namespace ghost::kernels::cuda::internal {

// OK for cudaSuccess; else a Status whose code says what the caller can do (RESOURCE_EXHAUSTED
// for an allocation, UNAVAILABLE for no device or driver, INTERNAL otherwise) and whose message
// reads "<call> at <file>:<line>: <error name> (<description>)". Clears the runtime's last
// (non-sticky) error so that later calls start clean.
absl::Status CudaStatus(cudaError_t error, const char* call, const char* file, int line);
absl::Status BlasStatus(cublasStatus_t status, const char* call, const char* file, int line);

}  // namespace ghost::kernels::cuda::internal

// Runs `call` (a CUDA runtime call) and returns its error as a Status from the enclosing
// function.
#define GHOST_CUDA_RETURN_IF_ERROR(call)                                                     \
  do {                                                                                       \
    if (const cudaError_t ghost_cuda_error = (call); ghost_cuda_error != cudaSuccess) {      \
      return ::ghost::kernels::cuda::internal::CudaStatus(ghost_cuda_error, #call, __FILE__, \
                                                          __LINE__);                         \
    }                                                                                        \
  } while (false)

#define GHOST_CUBLAS_RETURN_IF_ERROR(call)                                                    \
  do {                                                                                        \
    if (const cublasStatus_t ghost_blas_status = (call);                                      \
        ghost_blas_status != CUBLAS_STATUS_SUCCESS) {                                         \
      return ::ghost::kernels::cuda::internal::BlasStatus(ghost_blas_status, #call, __FILE__, \
                                                          __LINE__);                          \
    }                                                                                         \
  } while (false)

// After a kernel launch: the launch's own error (a bad configuration), as a Status naming the
// kernel (a string literal).
#define GHOST_CUDA_RETURN_IF_LAUNCH_FAILED(kernel_name)                                            \
  do {                                                                                             \
    if (const cudaError_t ghost_cuda_error = cudaGetLastError();                                   \
        ghost_cuda_error != cudaSuccess) {                                                         \
      return ::ghost::kernels::cuda::internal::CudaStatus(ghost_cuda_error, kernel_name " launch", \
                                                          __FILE__, __LINE__);                     \
    }                                                                                              \
  } while (false)

#endif  // GHOST_KERNELS_CUDA_CUDA_STATUS_H_
