// The CUDA side of the kernels layer, as plain C++: no CUDA header reaches callers.
// Without nvcc at build time, or without a GPU or driver at run time, every function here
// reports "no device" instead of failing.
#ifndef GHOST_KERNELS_CUDA_CUDA_DEVICE_H_
#define GHOST_KERNELS_CUDA_CUDA_DEVICE_H_

#include <cstddef>
#include <string>

namespace ghost::kernels {

// True when this binary was compiled with CUDA kernels.
bool CudaCompiled();
// Number of usable CUDA devices (0 without a driver or GPU). Never throws or aborts.
int CudaDeviceCount();
// Name of device 0, or "" when there is none.
std::string CudaDeviceName();

// out[i] = a[i] + b[i] on device 0, host buffers in and out. Returns "" on success, else a
// readable error (including "no CUDA device").
std::string CudaVectorAdd(const float* a, const float* b, float* out, std::size_t n);

}  // namespace ghost::kernels

#endif  // GHOST_KERNELS_CUDA_CUDA_DEVICE_H_
