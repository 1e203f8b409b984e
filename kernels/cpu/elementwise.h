// The element-wise pieces of a transformer layer on fp32 rows, fused where that saves a pass
// over memory. Plain C++: no absl, no engine types. The plain entry points use the variant
// chosen once from CPUID (DetectedIsa); ElementwiseKernelsFor gives any variant, for tests.
#ifndef GHOST_KERNELS_CPU_ELEMENTWISE_H_
#define GHOST_KERNELS_CPU_ELEMENTWISE_H_

#include <cstddef>

#include "kernels/cpu/matmul.h"

namespace ghost::kernels {

// out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * weight, for n rows of `dim` values.
void RmsNorm(const float* x, std::size_t n, std::size_t dim, const float* weight, float eps,
             float* out);

// x[t] += residual[t], then out[t] = RmsNorm(x[t]): the residual add and the norm that follows
// it in one pass over x.
void AddRmsNorm(float* x, const float* residual, std::size_t n, std::size_t dim,
                const float* weight, float eps, float* out);

// Rotary embedding of one position, in place on its q_heads query heads and k_heads key heads
// (Hugging Face's rotate_half: dimension i pairs with i + head_dim / 2):
//   x[i] <- x[i] cos[i] - x[i + half] sin[i],  x[i + half] <- x[i + half] cos[i] + x[i] sin[i].
// cos and sin hold head_dim / 2 values, computed once per position for every head and layer.
void RopeQk(float* q, std::size_t q_heads, float* k, std::size_t k_heads, std::size_t head_dim,
            const float* cos, const float* sin);

// gate[i] = silu(gate[i]) * up[i] = gate[i] / (1 + e^-gate[i]) * up[i], e^x to a few ulp.
void SiluMul(float* gate, const float* up, std::size_t count);

// The gated MLP's activation: gate[i] = silu(gate[i]), then zeroed where |silu| <= threshold
// (a negative threshold keeps every value). Returns how many values were kept.
std::size_t SiluGate(float* gate, std::size_t count, float threshold);

// One variant's kernels, with the signatures above.
struct ElementwiseKernels {
  void (*rms_norm)(const float*, std::size_t, std::size_t, const float*, float, float*);
  void (*add_rms_norm)(float*, const float*, std::size_t, std::size_t, const float*, float, float*);
  void (*rope_qk)(float*, std::size_t, float*, std::size_t, std::size_t, const float*,
                  const float*);
  void (*silu_mul)(float*, const float*, std::size_t);
  std::size_t (*silu_gate)(float*, std::size_t, float);
};

// Calling a variant the CPU lacks is undefined; check IsaSupported() first.
const ElementwiseKernels& ElementwiseKernelsFor(CpuIsa isa);

}  // namespace ghost::kernels

#endif  // GHOST_KERNELS_CPU_ELEMENTWISE_H_
