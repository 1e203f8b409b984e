// Internal to kernels/cpu: the attention tile of attention_internal.h written once over the
// vector types of vec.h; attention_{scalar,avx2,avx512}.cc compile it per ISA.
#ifndef GHOST_KERNELS_CPU_ATTENTION_KERNEL_H_
#define GHOST_KERNELS_CPU_ATTENTION_KERNEL_H_

#include <cstddef>

#include "kernels/cpu/attention_internal.h"
#include "kernels/cpu/vec.h"

namespace ghost::kernels::internal {
namespace {

// Keys scored together before one rescale of a row's running sums.
constexpr std::size_t kKeyBlock = 16;

inline std::size_t MinSize(std::size_t a, std::size_t b) { return a < b ? a : b; }
inline std::size_t MaxSize(std::size_t a, std::size_t b) { return a > b ? a : b; }
inline float MaxFloat(float a, float b) { return a > b ? a : b; }

// The first position that the query at `position` sees.
inline std::size_t OldestVisible(std::size_t position, std::size_t window) {
  return window > 0 && position >= window ? position + 1 - window : 0;
}

template <typename T>
float Dot(const float* a, const float* b, std::size_t dim) {
  typename T::V acc = T::Set(0.0f);
  std::size_t d = 0;
  for (; d + T::kWidth <= dim; d += T::kWidth) acc = T::Fma(T::Load(a + d), T::Load(b + d), acc);
  float sum = T::ReduceAdd(acc);
  for (; d < dim; ++d) sum += a[d] * b[d];
  return sum;
}

// x[j] = e^(x[j] - shift); returns their sum.
template <typename T>
float ExpShifted(float* x, std::size_t count, float shift) {
  const typename T::V vector_shift = T::Set(shift);
  typename T::V vector_total = T::Set(0.0f);
  std::size_t j = 0;
  for (; j + T::kWidth <= count; j += T::kWidth) {
    const typename T::V e = Exp<T>(T::Sub(T::Load(x + j), vector_shift));
    T::Store(x + j, e);
    vector_total = T::Add(vector_total, e);
  }
  float total = T::ReduceAdd(vector_total);
  for (; j < count; ++j) {
    x[j] = Exp<ScalarVec>(x[j] - shift);
    total += x[j];
  }
  return total;
}

// sums = sums * correction + sum_j weights[j] * values[j], over dim floats. The loads of
// sums and values stay in L1; one pass over sums per key block, not per key.
template <typename T>
void RescaleAccumulate(float* sums, float correction, const float* weights,
                       const float* const* values, std::size_t count, std::size_t dim) {
  const typename T::V vector_correction = T::Set(correction);
  std::size_t d = 0;
  for (; d + T::kWidth <= dim; d += T::kWidth) {
    typename T::V acc = T::Mul(T::Load(sums + d), vector_correction);
    for (std::size_t j = 0; j < count; ++j) {
      acc = T::Fma(T::Set(weights[j]), T::Load(values[j] + d), acc);
    }
    T::Store(sums + d, acc);
  }
  for (; d < dim; ++d) {
    float acc = sums[d] * correction;
    for (std::size_t j = 0; j < count; ++j) acc += weights[j] * values[j][d];
    sums[d] = acc;
  }
}

template <typename T>
void AttendRows(const AttentionDims& dims, const float* q, std::size_t first,
                const PagedKvBlocks& kv, std::size_t kv_head, std::size_t row_begin,
                std::size_t row_end, float* sums, float* out) {
  const std::size_t head_dim = dims.head_dim;
  const std::size_t group = dims.num_heads / dims.num_kv_heads;
  const std::size_t q_stride = dims.num_heads * head_dim;
  const std::size_t kv_stride = dims.num_kv_heads * head_dim;
  const float scale = 1.0f / __builtin_sqrtf(static_cast<float>(head_dim));
  const std::size_t rows = row_end - row_begin;

  // Per row: its query and output, the keys [begin, end) it sees, its running maximum score
  // and running sum of e^(score - maximum).
  const float* queries[kMaxTileRows];
  float* outputs[kMaxTileRows];
  std::size_t begin[kMaxTileRows], end[kMaxTileRows];
  float running_max[kMaxTileRows], running_sum[kMaxTileRows];
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t row = row_begin + i;
    const std::size_t t = row / group;
    const std::size_t offset = t * q_stride + (kv_head * group + row % group) * head_dim;
    queries[i] = q + offset;
    outputs[i] = out + offset;
    begin[i] = OldestVisible(first + t, dims.sliding_window);
    end[i] = first + t + 1;
    running_max[i] = -__builtin_inff();
    running_sum[i] = 0.0f;
    for (std::size_t d = 0; d < head_dim; ++d) sums[i * head_dim + d] = 0.0f;
  }

  // Rows go in position order: the first sees the oldest keys, the last the newest.
  const std::size_t lo = OldestVisible(first + row_begin / group, dims.sliding_window);
  const std::size_t hi = first + (row_end - 1) / group + 1;
  const float* keys[kKeyBlock];
  const float* values[kKeyBlock];
  float weights[kKeyBlock];
  for (std::size_t s0 = lo; s0 < hi; s0 += kKeyBlock) {
    const std::size_t count = MinSize(kKeyBlock, hi - s0);
    for (std::size_t j = 0; j < count; ++j) {
      const std::size_t s = s0 + j;
      const std::size_t offset = (s % kv.block_tokens) * kv_stride + kv_head * head_dim;
      keys[j] = kv.key_blocks[s / kv.block_tokens] + offset;
      values[j] = kv.value_blocks[s / kv.block_tokens] + offset;
    }
    for (std::size_t i = 0; i < rows; ++i) {
      if (begin[i] >= s0 + count || end[i] <= s0) continue;  // sees none of this block
      const std::size_t b = MaxSize(begin[i], s0) - s0;
      const std::size_t e = MinSize(end[i], s0 + count) - s0;
      float block_max = -__builtin_inff();
      for (std::size_t j = b; j < e; ++j) {
        weights[j] = Dot<T>(queries[i], keys[j], head_dim) * scale;
        block_max = MaxFloat(block_max, weights[j]);
      }
      const float new_max = MaxFloat(running_max[i], block_max);
      // e^-inf = 0 exactly on a row's first block, which clears nothing but the zeros.
      const float correction = __builtin_expf(running_max[i] - new_max);
      const float block_sum = ExpShifted<T>(weights + b, e - b, new_max);
      running_sum[i] = running_sum[i] * correction + block_sum;
      running_max[i] = new_max;
      RescaleAccumulate<T>(sums + i * head_dim, correction, weights + b, values + b, e - b,
                           head_dim);
    }
  }

  for (std::size_t i = 0; i < rows; ++i) {
    // Every row sees at least its own position, so its sum is at least 1.
    const typename T::V inverse = T::Set(1.0f / running_sum[i]);
    const float* row_sums = sums + i * head_dim;
    std::size_t d = 0;
    for (; d + T::kWidth <= head_dim; d += T::kWidth) {
      T::Store(outputs[i] + d, T::Mul(T::Load(row_sums + d), inverse));
    }
    for (; d < head_dim; ++d) outputs[i][d] = row_sums[d] * (1.0f / running_sum[i]);
  }
}

}  // namespace
}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_ATTENTION_KERNEL_H_
