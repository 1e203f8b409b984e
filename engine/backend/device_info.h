// What this build and this machine offer the engine's backends, for build information (the
// server's ghost_build_info) without a kernels header past engine/backend.
#ifndef GHOST_ENGINE_BACKEND_DEVICE_INFO_H_
#define GHOST_ENGINE_BACKEND_DEVICE_INFO_H_

namespace ghost {

// The CPU kernels' variant chosen from CPUID at start-up: "scalar", "avx2" or "avx512".
const char* CpuIsaName();
// True when this binary was compiled with CUDA kernels (nvcc was found at build time).
bool CudaCompiled();

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_DEVICE_INFO_H_
