// Internal to kernels/cpu: the attention tile of attention_internal.h written once over the
// vector types of vec.h and the cache's row format (F32Rows, Bf16Rows);
// attention_{scalar,avx2,avx512}.cc compile it per ISA, once per format.
#ifndef GHOST_KERNELS_CPU_ATTENTION_KERNEL_H_
#define GHOST_KERNELS_CPU_ATTENTION_KERNEL_H_

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/attention_internal.h"
#include "kernels/cpu/prefetch.h"
#include "kernels/cpu/vec.h"

namespace ghost::kernels::internal {
namespace {

inline std::size_t MinSize(std::size_t a, std::size_t b) { return a < b ? a : b; }
inline std::size_t MaxSize(std::size_t a, std::size_t b) { return a > b ? a : b; }
inline float MaxFloat(float a, float b) { return a > b ? a : b; }

// The first position that the query at `position` sees.
inline std::size_t OldestVisible(std::size_t position, std::size_t window) {
  return window > 0 && position >= window ? position + 1 - window : 0;
}

// The head size a kernel was compiled for (kDim), or, for kDim = 0, the one it was given: the
// common sizes get loops the compiler unrolls whole, with every address a constant offset.
template <std::size_t kDim>
constexpr std::size_t HeadDim(std::size_t runtime) {
  return kDim != 0 ? kDim : runtime;
}

// scores[j] = query . keys[j] for the kKeyBlock keys of a block, rows of `dim` floats one after
// another. One accumulator per key, reduced together (a transposing reduction), so neither a
// per-key horizontal sum nor one long dependency chain limits the throughput.
template <typename T, std::size_t kDim>
[[gnu::always_inline]] inline void ScoreKeys(const float* query, const float* keys,
                                             std::size_t runtime_dim, float* scores) {
  const std::size_t dim = HeadDim<kDim>(runtime_dim);
  for (std::size_t j0 = 0; j0 < kKeyBlock; j0 += T::kWidth) {
    typename T::V acc[T::kWidth];
    for (std::size_t j = 0; j < T::kWidth; ++j) acc[j] = T::Set(0.0f);
    std::size_t d = 0;
    for (; d + T::kWidth <= dim; d += T::kWidth) {
      const typename T::V q = T::Load(query + d);
      for (std::size_t j = 0; j < T::kWidth; ++j) {
        acc[j] = T::Fma(q, T::Load(keys + (j0 + j) * dim + d), acc[j]);
      }
    }
    T::ReduceAddMany(acc, scores + j0);
    // (Compiled out for the sizes the vectors divide: GCC warned about the loop it unrolled.)
    if constexpr (kDim == 0 || kDim % T::kWidth != 0) {
      for (; d < dim; ++d) {
        for (std::size_t j = 0; j < T::kWidth; ++j)
          scores[j0 + j] += query[d] * keys[(j0 + j) * dim + d];
      }
    }
  }
}

// Folds one row's scores of a block, w[j] = query . key j (of which the row sees [b, e)), into
// its running maximum and total, and replaces them by their weights e^(score * scale - new
// maximum), 0 outside [b, e). Returns the factor e^(old maximum - new maximum) for the row's
// earlier sums.
template <typename T>
[[gnu::always_inline]] inline float SoftmaxBlock(std::size_t b, std::size_t e, float scale,
                                                 float& max, float& total, float* w) {
  static_assert(kKeyBlock % T::kWidth == 0, "whole vectors of scores");
  const bool partial = b != 0 || e != kKeyBlock;
  if (partial) {
    for (std::size_t j = 0; j < b; ++j) w[j] = -__builtin_inff();
    for (std::size_t j = e; j < kKeyBlock; ++j) w[j] = -__builtin_inff();
  }
  typename T::V block_max = T::Load(w);
  for (std::size_t j = T::kWidth; j < kKeyBlock; j += T::kWidth) {
    block_max = T::Max(block_max, T::Load(w + j));
  }
  const float new_max = MaxFloat(max, T::ReduceMax(block_max) * scale);
  // The first block's maximum is -inf: Exp clamps, and the earlier sums it scales are zeros.
  const float correction = Exp<ScalarVec>(max - new_max);
  const typename T::V vector_scale = T::Set(scale);
  const typename T::V vector_shift = T::Set(new_max);
  typename T::V vector_total = T::Set(0.0f);
  for (std::size_t j = 0; j < kKeyBlock; j += T::kWidth) {
    const typename T::V weight = Exp<T>(T::Sub(T::Mul(T::Load(w + j), vector_scale), vector_shift));
    T::Store(w + j, weight);
    vector_total = T::Add(vector_total, weight);
  }
  float block_total = T::ReduceAdd(vector_total);
  if (partial) {
    // Exp clamps e^-inf to 1e-38: the keys the row does not see weigh exactly nothing.
    block_total = 0.0f;
    for (std::size_t j = 0; j < kKeyBlock; ++j) {
      if (j < b || j >= e) w[j] = 0.0f;
      block_total += w[j];
    }
  }
  total = total * correction + block_total;
  max = new_max;
  return correction;
}

// Query heads of a group whose weighted sums are accumulated together, sharing each loaded
// value vector.
constexpr std::size_t kHeadsTogether = 4;

// For the H rows h that see the same block: sums[h][d .. d + C * kWidth) = sums[h] *
// correction[h] + sum_j weights[h][j] * values[j], over the block's kKeyBlock value rows of
// `dim` floats (weight 0 for the keys a row does not see), the H x C accumulators held in
// registers across the keys, so that each value vector loaded serves H rows.
template <typename T, std::size_t H, std::size_t C>
void AccumulateVectors(float* const* sums, const float* correction, const float* const* weights,
                       const float* values, std::size_t dim, std::size_t d) {
  typename T::V acc[H][C];
  for (std::size_t h = 0; h < H; ++h) {
    for (std::size_t c = 0; c < C; ++c) {
      acc[h][c] = T::Mul(T::Load(sums[h] + d + c * T::kWidth), T::Set(correction[h]));
    }
  }
  for (std::size_t j = 0; j < kKeyBlock; ++j) {
    typename T::V v[C];
    for (std::size_t c = 0; c < C; ++c) v[c] = T::Load(values + j * dim + d + c * T::kWidth);
    for (std::size_t h = 0; h < H; ++h) {
      const typename T::V w = T::Set(weights[h][j]);
      for (std::size_t c = 0; c < C; ++c) acc[h][c] = T::Fma(w, v[c], acc[h][c]);
    }
  }
  for (std::size_t h = 0; h < H; ++h) {
    for (std::size_t c = 0; c < C; ++c) T::Store(sums[h] + d + c * T::kWidth, acc[h][c]);
  }
}

// AccumulateVectors over all dim floats: C vectors at a time (as many as the registers hold
// beside H x C accumulators), then one, then the scalar tail.
template <typename T, std::size_t H, std::size_t kDim>
void RescaleAccumulate(float* const* sums, const float* correction, const float* const* weights,
                       const float* values, std::size_t runtime_dim) {
  const std::size_t dim = HeadDim<kDim>(runtime_dim);
  constexpr std::size_t C = T::kWidth >= 16 ? 4 : 2;
  std::size_t d = 0;
  for (; d + C * T::kWidth <= dim; d += C * T::kWidth) {
    AccumulateVectors<T, H, C>(sums, correction, weights, values, dim, d);
  }
  for (; d + T::kWidth <= dim; d += T::kWidth) {
    AccumulateVectors<T, H, 1>(sums, correction, weights, values, dim, d);
  }
  for (; d < dim; ++d) {
    for (std::size_t h = 0; h < H; ++h) {
      float acc = sums[h][d] * correction[h];
      for (std::size_t j = 0; j < kKeyBlock; ++j) acc += weights[h][j] * values[j * dim + d];
      sums[h][d] = acc;
    }
  }
}

// Row-pointer of position s in a paged cache (key or value blocks) of Element rows.
template <typename Element>
const Element* CacheRow(const void* const* blocks, std::size_t block_tokens,
                        std::size_t row_elements, std::size_t s) {
  return static_cast<const Element*>(blocks[s / block_tokens]) + s % block_tokens * row_elements;
}

// Row formats: how one kv head's slice of kKeyBlock cache rows becomes the fp32 rows that the
// scores and sums read. Load copies the slice of cache_rows[j] starting at `offset`, dim
// values, to out + j * dim for j < count, widened to fp32; rows past `count` repeat the last
// one. Once per block and kv head, for all the query heads and positions of the tile: every
// query head of the group reads each key and value, and then from one small contiguous buffer.
template <typename T>
struct F32Rows {
  using Element = float;
  static void Load(const float* const* cache_rows, std::size_t count, std::size_t offset,
                   std::size_t dim, float* out) {
    for (std::size_t j = 0; j < kKeyBlock; ++j) {
      const float* in = cache_rows[MinSize(j, count - 1)] + offset;
      std::size_t d = 0;
      for (; d + T::kWidth <= dim; d += T::kWidth) T::Store(out + j * dim + d, T::Load(in + d));
      for (; d < dim; ++d) out[j * dim + d] = in[d];
    }
  }
};

// bf16 rows are widened exactly (a 16-bit shift).
template <typename T>
struct Bf16Rows {
  using Element = std::uint16_t;
  static void Load(const std::uint16_t* const* cache_rows, std::size_t count, std::size_t offset,
                   std::size_t dim, float* out) {
    for (std::size_t j = 0; j < kKeyBlock; ++j) {
      const std::uint16_t* in = cache_rows[MinSize(j, count - 1)] + offset;
      std::size_t d = 0;
      for (; d + T::kWidth <= dim; d += T::kWidth) T::Store(out + j * dim + d, T::LoadBf16(in + d));
      for (; d < dim; ++d) out[j * dim + d] = ScalarVec::LoadBf16(in + d);
    }
  }
};

template <typename T, typename Rows, std::size_t kDim>
void AttendTileOfDim(const AttentionDims& dims, const float* q, std::size_t first,
                     const PagedKvBlocks& kv, const TileRange& range, const TileState& state) {
  using Element = typename Rows::Element;
  const std::size_t head_dim = HeadDim<kDim>(dims.head_dim);
  const std::size_t group = dims.num_heads / dims.num_kv_heads;
  const std::size_t q_stride = dims.num_heads * head_dim;
  const std::size_t kv_stride = dims.num_kv_heads * head_dim;
  const float scale = 1.0f / __builtin_sqrtf(static_cast<float>(head_dim));
  const std::size_t kv_head_begin = range.kv_head_begin;
  const std::size_t kv_head_end = MinSize(range.kv_head_end, dims.num_kv_heads);
  // Only the rows of the range's query heads: other calls may fill the others meanwhile.
  for (std::size_t t = range.t_begin; t < range.t_end; ++t) {
    const std::size_t row_begin = (t - range.t_begin) * dims.num_heads + kv_head_begin * group;
    const std::size_t row_end = row_begin + (kv_head_end - kv_head_begin) * group;
    for (std::size_t i = row_begin; i < row_end; ++i) {
      state.max[i] = -__builtin_inff();
      state.total[i] = 0.0f;
    }
    for (std::size_t i = row_begin * head_dim; i < row_end * head_dim; ++i) state.sums[i] = 0.0f;
  }

  // The keys some row of the tile sees, within the range asked for: the first position sees
  // the oldest, the last the newest.
  const std::size_t lo =
      MaxSize(range.key_begin, OldestVisible(first + range.t_begin, dims.sliding_window));
  const std::size_t hi = MinSize(range.key_end, first + range.t_end);
  const std::size_t head_offset = kv_head_begin * head_dim;
  const std::size_t head_bytes = (kv_head_end - kv_head_begin) * head_dim * sizeof(Element);
  const Element* key_rows[kKeyBlock];
  const Element* value_rows[kKeyBlock];
  float* const keys = state.scratch;
  float* const values = state.scratch + kKeyBlock * head_dim;
  alignas(64) float weights[kHeadsTogether][kKeyBlock];
  for (std::size_t s0 = lo; s0 < hi; s0 += kKeyBlock) {
    const std::size_t count = MinSize(kKeyBlock, hi - s0);
    for (std::size_t j = 0; j < count; ++j) {
      key_rows[j] = CacheRow<Element>(kv.key_blocks, kv.block_tokens, kv_stride, s0 + j);
      value_rows[j] = CacheRow<Element>(kv.value_blocks, kv.block_tokens, kv_stride, s0 + j);
    }
    // The kv heads read each row in head_dim pieces, a stride the hardware prefetchers follow
    // poorly: fetch the next block's rows (the range's heads of them) while this one is
    // scored, and the first block's before it is.
    for (std::size_t s = s0 == lo ? s0 : s0 + kKeyBlock; s < MinSize(s0 + 2 * kKeyBlock, hi); ++s) {
      PrefetchBytes(CacheRow<Element>(kv.key_blocks, kv.block_tokens, kv_stride, s) + head_offset,
                    head_bytes);
      PrefetchBytes(CacheRow<Element>(kv.value_blocks, kv.block_tokens, kv_stride, s) + head_offset,
                    head_bytes);
    }
    for (std::size_t kv_head = kv_head_begin; kv_head < kv_head_end; ++kv_head) {
      Rows::Load(key_rows, count, kv_head * head_dim, head_dim, keys);
      Rows::Load(value_rows, count, kv_head * head_dim, head_dim, values);
      for (std::size_t t = range.t_begin; t < range.t_end; ++t) {
        const std::size_t begin = MaxSize(OldestVisible(first + t, dims.sliding_window), s0);
        const std::size_t end = MinSize(first + t + 1, s0 + count);
        if (begin >= end) continue;  // position t sees none of this block
        for (std::size_t h0 = kv_head * group; h0 < (kv_head + 1) * group; h0 += kHeadsTogether) {
          const std::size_t heads = MinSize(kHeadsTogether, (kv_head + 1) * group - h0);
          float* row_sums[kHeadsTogether];
          float correction[kHeadsTogether];
          const float* row_weights[kHeadsTogether];
          // All the heads' scores first, then their softmax updates: each update is a chain
          // of dependent steps, and side by side the heads' chains overlap.
          for (std::size_t k = 0; k < heads; ++k) {
            ScoreKeys<T, kDim>(q + t * q_stride + (h0 + k) * head_dim, keys, head_dim, weights[k]);
          }
          for (std::size_t k = 0; k < heads; ++k) {
            const std::size_t i = (t - range.t_begin) * dims.num_heads + h0 + k;
            correction[k] = SoftmaxBlock<T>(begin - s0, end - s0, scale, state.max[i],
                                            state.total[i], weights[k]);
            row_sums[k] = state.sums + i * head_dim;
            row_weights[k] = weights[k];
          }
          if (heads == kHeadsTogether) {
            RescaleAccumulate<T, kHeadsTogether, kDim>(row_sums, correction, row_weights, values,
                                                       head_dim);
          } else {
            for (std::size_t k = 0; k < heads; ++k) {
              RescaleAccumulate<T, 1, kDim>(row_sums + k, correction + k, row_weights + k, values,
                                            head_dim);
            }
          }
        }
      }
    }
  }
}

// The tile, compiled for the common head sizes and for any other.
template <typename T, typename Rows>
void AttendTile(const AttentionDims& dims, const float* q, std::size_t first,
                const PagedKvBlocks& kv, const TileRange& range, const TileState& state) {
  switch (dims.head_dim) {
    case 64:
      return AttendTileOfDim<T, Rows, 64>(dims, q, first, kv, range, state);
    case 128:
      return AttendTileOfDim<T, Rows, 128>(dims, q, first, kv, range, state);
    default:
      return AttendTileOfDim<T, Rows, 0>(dims, q, first, kv, range, state);
  }
}

}  // namespace
}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_ATTENTION_KERNEL_H_
