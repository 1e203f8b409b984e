// CUDA side of kernels/: device queries and a vector add that proves the toolchain, driver
// and device work end to end. Every runtime call is checked; errors come back as text.
#include <cuda_runtime.h>

#include <string>

#include "kernels/cuda/cuda_device.h"

namespace ghost::kernels {
namespace {

std::string ErrorText(const char* what, cudaError_t error) {
  return std::string(what) + ": " + cudaGetErrorName(error) + " (" + cudaGetErrorString(error) +
         ")";
}

// Owns one device allocation.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  cudaError_t Allocate(std::size_t bytes) { return cudaMalloc(&ptr_, bytes); }
  float* get() const { return static_cast<float*>(ptr_); }

 private:
  void* ptr_ = nullptr;
};

__global__ void VectorAddKernel(const float* a, const float* b, float* out, std::size_t n) {
  const std::size_t stride = std::size_t{blockDim.x} * gridDim.x;
  for (std::size_t i = std::size_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride) {
    out[i] = a[i] + b[i];
  }
}

}  // namespace

bool CudaCompiled() { return true; }

int CudaDeviceCount() {
  int count = 0;
  // Without a driver or GPU the runtime reports an error here; that simply means none.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // Clear the sticky-free error so later calls start clean.
    return 0;
  }
  return count;
}

std::string CudaDeviceName() {
  if (CudaDeviceCount() == 0) return "";
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return "";
  return prop.name;
}

std::string CudaVectorAdd(const float* a, const float* b, float* out, std::size_t n) {
  if (CudaDeviceCount() == 0) return "no CUDA device";
  if (n == 0) return "";
  if (cudaError_t e = cudaSetDevice(0); e != cudaSuccess) return ErrorText("cudaSetDevice", e);
  const std::size_t bytes = n * sizeof(float);
  DeviceBuffer da, db, dout;
  for (DeviceBuffer* buffer : {&da, &db, &dout}) {
    if (cudaError_t e = buffer->Allocate(bytes); e != cudaSuccess) {
      return ErrorText("cudaMalloc", e);
    }
  }
  if (cudaError_t e = cudaMemcpy(da.get(), a, bytes, cudaMemcpyHostToDevice); e != cudaSuccess) {
    return ErrorText("cudaMemcpy a", e);
  }
  if (cudaError_t e = cudaMemcpy(db.get(), b, bytes, cudaMemcpyHostToDevice); e != cudaSuccess) {
    return ErrorText("cudaMemcpy b", e);
  }
  constexpr int kThreads = 256;
  const std::size_t wanted_blocks = (n + kThreads - 1) / kThreads;
  const int blocks = wanted_blocks > 65535 ? 65535 : static_cast<int>(wanted_blocks);
  VectorAddKernel<<<blocks, kThreads>>>(da.get(), db.get(), dout.get(), n);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return ErrorText("launch", e);
  if (cudaError_t e = cudaDeviceSynchronize(); e != cudaSuccess) {
    return ErrorText("VectorAddKernel", e);
  }
  if (cudaError_t e = cudaMemcpy(out, dout.get(), bytes, cudaMemcpyDeviceToHost);
      e != cudaSuccess) {
    return ErrorText("cudaMemcpy out", e);
  }
  return "";
}

}  // namespace ghost::kernels
