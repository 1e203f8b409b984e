// Built instead of cuda_device.cu when nvcc was not found: the same contract, no device.
#include "kernels/cuda/cuda_device.h"

namespace ghost::kernels {

bool CudaCompiled() { return false; }
int CudaDeviceCount() { return 0; }
std::string CudaDeviceName() { return ""; }

std::string CudaVectorAdd(const float*, const float*, float*, std::size_t) {
  return "no CUDA device: this binary was built without CUDA";
}

}  // namespace ghost::kernels
