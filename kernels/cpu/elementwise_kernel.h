// Internal to kernels/cpu: the kernels of elementwise.h written once over the vector types of
// vec.h; elementwise_{scalar,avx2,avx512}.cc compile them per ISA. Tails shorter than a
// vector run the same operations on ScalarVec.
#ifndef GHOST_KERNELS_CPU_ELEMENTWISE_KERNEL_H_
#define GHOST_KERNELS_CPU_ELEMENTWISE_KERNEL_H_

#include <cstddef>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/vec.h"

namespace ghost::kernels::internal {
namespace {

// 1 / sqrt(mean + eps), in double as the float64 reference forward does.
inline float InverseRms(float sum_squares, std::size_t dim, float eps) {
  return static_cast<float>(1.0 / __builtin_sqrt(double{sum_squares} / dim + eps));
}

// out = x * scale * weight.
template <typename T>
void ScaleRow(const float* x, float scale, const float* weight, std::size_t dim, float* out) {
  const typename T::V vector_scale = T::Set(scale);
  std::size_t i = 0;
  for (; i + T::kWidth <= dim; i += T::kWidth) {
    T::Store(out + i, T::Mul(T::Mul(T::Load(x + i), vector_scale), T::Load(weight + i)));
  }
  for (; i < dim; ++i) out[i] = x[i] * scale * weight[i];
}

template <typename T>
void RmsNormRows(const float* x, std::size_t n, std::size_t dim, const float* weight, float eps,
                 float* out) {
  for (std::size_t t = 0; t < n; ++t) {
    const float* row = x + t * dim;
    typename T::V squares = T::Set(0.0f);
    std::size_t i = 0;
    for (; i + T::kWidth <= dim; i += T::kWidth) {
      const typename T::V v = T::Load(row + i);
      squares = T::Fma(v, v, squares);
    }
    float sum_squares = T::ReduceAdd(squares);
    for (; i < dim; ++i) sum_squares += row[i] * row[i];
    ScaleRow<T>(row, InverseRms(sum_squares, dim, eps), weight, dim, out + t * dim);
  }
}

template <typename T>
void AddRmsNormRows(float* x, const float* residual, std::size_t n, std::size_t dim,
                    const float* weight, float eps, float* out) {
  for (std::size_t t = 0; t < n; ++t) {
    float* row = x + t * dim;
    const float* add = residual + t * dim;
    typename T::V squares = T::Set(0.0f);
    std::size_t i = 0;
    for (; i + T::kWidth <= dim; i += T::kWidth) {
      const typename T::V v = T::Add(T::Load(row + i), T::Load(add + i));
      T::Store(row + i, v);
      squares = T::Fma(v, v, squares);
    }
    float sum_squares = T::ReduceAdd(squares);
    for (; i < dim; ++i) {
      row[i] += add[i];
      sum_squares += row[i] * row[i];
    }
    // The row was just written: this second read comes from L1.
    ScaleRow<T>(row, InverseRms(sum_squares, dim, eps), weight, dim, out + t * dim);
  }
}

template <typename T>
void RopeHeads(float* heads, std::size_t num_heads, std::size_t head_dim, const float* cos,
               const float* sin) {
  const std::size_t half = head_dim / 2;
  for (std::size_t h = 0; h < num_heads; ++h) {
    float* x = heads + h * head_dim;
    std::size_t i = 0;
    for (; i + T::kWidth <= half; i += T::kWidth) {
      const typename T::V x1 = T::Load(x + i);
      const typename T::V x2 = T::Load(x + half + i);
      const typename T::V c = T::Load(cos + i);
      const typename T::V s = T::Load(sin + i);
      T::Store(x + i, T::Sub(T::Mul(x1, c), T::Mul(x2, s)));
      T::Store(x + half + i, T::Add(T::Mul(x2, c), T::Mul(x1, s)));
    }
    for (; i < half; ++i) {
      const float x1 = x[i];
      const float x2 = x[half + i];
      x[i] = x1 * cos[i] - x2 * sin[i];
      x[half + i] = x2 * cos[i] + x1 * sin[i];
    }
  }
}

template <typename T>
void RopeQkHeads(float* q, std::size_t q_heads, float* k, std::size_t k_heads, std::size_t head_dim,
                 const float* cos, const float* sin) {
  RopeHeads<T>(q, q_heads, head_dim, cos, sin);
  RopeHeads<T>(k, k_heads, head_dim, cos, sin);
}

template <typename T>
typename T::V Silu(typename T::V g) {
  return T::Div(g, T::Add(T::Set(1.0f), Exp<T>(T::Sub(T::Set(0.0f), g))));
}

template <typename T>
typename T::V SiluTimes(typename T::V g, typename T::V u) {
  return T::Mul(Silu<T>(g), u);
}

template <typename T>
void SiluMulValues(float* gate, const float* up, std::size_t count) {
  std::size_t i = 0;
  for (; i + T::kWidth <= count; i += T::kWidth) {
    T::Store(gate + i, SiluTimes<T>(T::Load(gate + i), T::Load(up + i)));
  }
  for (; i < count; ++i) gate[i] = SiluTimes<ScalarVec>(gate[i], up[i]);
}

// SiLU in vectors; the threshold pass (a compare, a select and a count) is left to the
// compiler's vectorizer.
template <typename T>
std::size_t SiluGateValues(float* gate, std::size_t count, float threshold) {
  std::size_t i = 0;
  for (; i + T::kWidth <= count; i += T::kWidth) T::Store(gate + i, Silu<T>(T::Load(gate + i)));
  for (; i < count; ++i) gate[i] = Silu<ScalarVec>(gate[i]);
  std::size_t kept = 0;
  for (i = 0; i < count; ++i) {
    const bool keep = __builtin_fabsf(gate[i]) > threshold;
    gate[i] = keep ? gate[i] : 0.0f;
    kept += keep ? 1 : 0;
  }
  return kept;
}

template <typename T>
constexpr ElementwiseKernels kElementwise = {RmsNormRows<T>, AddRmsNormRows<T>, RopeQkHeads<T>,
                                             SiluMulValues<T>, SiluGateValues<T>};

}  // namespace
}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_ELEMENTWISE_KERNEL_H_
