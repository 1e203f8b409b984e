// The one place that chooses an element-wise variant.
#include "kernels/cpu/elementwise.h"

#include <cstddef>

#include "kernels/cpu/elementwise_internal.h"

namespace ghost::kernels {
namespace {

const ElementwiseKernels& Detected() {
  static const ElementwiseKernels& kernels = ElementwiseKernelsFor(DetectedIsa());
  return kernels;
}

}  // namespace

const ElementwiseKernels& ElementwiseKernelsFor(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kScalar:
      return internal::ElementwiseScalar();
    case CpuIsa::kAvx2:
      return internal::ElementwiseAvx2();
    case CpuIsa::kAvx512:
      return internal::ElementwiseAvx512();
  }
  return internal::ElementwiseScalar();
}

void RmsNorm(const float* x, std::size_t n, std::size_t dim, const float* weight, float eps,
             float* out) {
  Detected().rms_norm(x, n, dim, weight, eps, out);
}

void AddRmsNorm(float* x, const float* residual, std::size_t n, std::size_t dim,
                const float* weight, float eps, float* out) {
  Detected().add_rms_norm(x, residual, n, dim, weight, eps, out);
}

void RopeQk(float* q, std::size_t q_heads, float* k, std::size_t k_heads, std::size_t head_dim,
            const float* cos, const float* sin) {
  Detected().rope_qk(q, q_heads, k, k_heads, head_dim, cos, sin);
}

void SiluMul(float* gate, const float* up, std::size_t count) {
  Detected().silu_mul(gate, up, count);
}

std::size_t SiluGate(float* gate, std::size_t count, float threshold) {
  return Detected().silu_gate(gate, count, threshold);
}

}  // namespace ghost::kernels
