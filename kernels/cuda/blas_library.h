// cuBLAS, opened at run time (dlopen, RTLD_LOCAL) the first time a handle is made, instead of
// linked: libcublas/libcublasLt loaded into a process at start stop civetweb (the metrics
// server) from starting ("null context when constructing CivetServer"), so a server with no CUDA
// model must never load them. Internal to kernels/cuda; includes cuBLAS's header for its types.
#ifndef GHOST_KERNELS_CUDA_BLAS_LIBRARY_H_
#define GHOST_KERNELS_CUDA_BLAS_LIBRARY_H_

#include <cublas_v2.h>

#include "absl/status/statusor.h"

namespace ghost::kernels::cuda::internal {

struct BlasLibrary {
  decltype(&cublasCreate_v2) create;
  decltype(&cublasDestroy_v2) destroy;
  decltype(&cublasSetStream_v2) set_stream;
  decltype(&cublasSetMathMode) set_math_mode;
  // cublasGemmEx has a C++ overload; this is the C entry point's type.
  cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                            const void*, const void*, cudaDataType, int, const void*, cudaDataType,
                            int, const void*, void*, cudaDataType, int, cublasComputeType_t,
                            cublasGemmAlgo_t);
  decltype(&cublasGetStatusName) status_name;
  decltype(&cublasGetStatusString) status_string;
};

// The library, opened once; UNAVAILABLE naming what dlopen or dlsym said when it cannot be.
absl::StatusOr<const BlasLibrary*> Blas();
// The library if it was opened already, else nullptr (for error messages).
const BlasLibrary* BlasIfOpen();

}  // namespace ghost::kernels::cuda::internal

#endif  // GHOST_KERNELS_CUDA_BLAS_LIBRARY_H_
