// The CPU backend's matrix products for every weight format (WeightFormat): the one place that
// picks the kernel for a matrix, over host pointers.
#ifndef GHOST_ENGINE_BACKEND_CPU_LINEAR_H_
#define GHOST_ENGINE_BACKEND_CPU_LINEAR_H_

#include <cstddef>

#include "engine/backend/weight_matrix.h"

namespace ghost::cpu {

// y[t, r] = sum_c x[t, c] * w[r, c] for t < n: one pass over the weights for all n rows.
void MatMul(const float* x, std::size_t n, const WeightMatrix& w, float* y);

// MatMul(x, n, *w[i], y[i]) for i < count: matrices that read the same input (a layer's
// q/k/v or gate/up projections). Low-bit matrices of one layout share one quantization of
// x and one thread-pool call, which matters at decode, where a call is a few microseconds.
void MatMulShared(const float* x, std::size_t n, const WeightMatrix* const* w, float* const* y,
                  std::size_t count);

// out[c] = w[row, c] as fp32 (embedding lookup).
void CopyRow(const WeightMatrix& w, std::size_t row, float* out);

// The row-packed sparse MLP (kernels/cpu/sparse_mlp.h) over up and down_t [inner, hidden] in
// any weight format: x and out [n, hidden], h [n, inner].
void SparseMlp(const float* x, const float* h, std::size_t n, std::size_t hidden, std::size_t inner,
               const WeightMatrix& up, const WeightMatrix& down_t, float* out);

}  // namespace ghost::cpu

#endif  // GHOST_ENGINE_BACKEND_CPU_LINEAR_H_
