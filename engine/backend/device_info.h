// What this build and this machine offer the engine's backends, for build information (the
// server's ghost_build_info) without a kernels header past engine/backend.
#ifndef GHOST_ENGINE_BACKEND_DEVICE_INFO_H_
#define GHOST_ENGINE_BACKEND_DEVICE_INFO_H_

#include <string>

namespace ghost {

// The CPU kernels' variant chosen from CPUID at start-up: "scalar", "avx2" or "avx512".
const char* CpuIsaName();
// True when this binary was compiled with CUDA kernels (nvcc was found at build time).
bool CudaCompiled();
// The CUDA runtime's version ("13.0"; "none" without CUDA in the build) and device 0's name and
// compute capability ("NVIDIA H100 80GB HBM3 (sm_90)"; "none" without CUDA in the build, a driver
// or a device). Never empty, so that a dashboard can tell "no GPU" from a missing label.
std::string CudaRuntimeLabel();
std::string CudaDeviceLabel();

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_DEVICE_INFO_H_
