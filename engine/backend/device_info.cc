#include "engine/backend/device_info.h"

#include "kernels/cpu/matmul.h"
#include "kernels/cuda/cuda_device.h"

namespace ghost {

const char* CpuIsaName() { return kernels::IsaName(kernels::DetectedIsa()); }

bool CudaCompiled() { return kernels::CudaCompiled(); }

}  // namespace ghost
