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

// scores[j] = q . keys[j] for j < T::kWidth: one accumulator per key, reduced together, so
// neither a per-key horizontal sum nor one long dependency chain limits the throughput.
template <typename T>
void DotMany(const float* q, const float* const* keys, std::size_t dim, float* scores) {
  typename T::V acc[T::kWidth];
  for (std::size_t j = 0; j < T::kWidth; ++j) acc[j] = T::Set(0.0f);
  std::size_t d = 0;
  for (; d + T::kWidth <= dim; d += T::kWidth) {
    const typename T::V query = T::Load(q + d);
    for (std::size_t j = 0; j < T::kWidth; ++j)
      acc[j] = T::Fma(query, T::Load(keys[j] + d), acc[j]);
  }
  T::ReduceAddMany(acc, scores);
  for (; d < dim; ++d) {
    for (std::size_t j = 0; j < T::kWidth; ++j) scores[j] += q[d] * keys[j][d];
  }
}

// x[j] = e^(x[j] * scale - shift); returns their sum.
template <typename T>
float ExpShifted(float* x, std::size_t count, float scale, float shift) {
  const typename T::V vector_scale = T::Set(scale);
  const typename T::V vector_shift = T::Set(shift);
  typename T::V vector_total = T::Set(0.0f);
  std::size_t j = 0;
  for (; j + T::kWidth <= count; j += T::kWidth) {
    const typename T::V e = Exp<T>(T::Sub(T::Mul(T::Load(x + j), vector_scale), vector_shift));
    T::Store(x + j, e);
    vector_total = T::Add(vector_total, e);
  }
  float total = T::ReduceAdd(vector_total);
  for (; j < count; ++j) {
    x[j] = Exp<ScalarVec>(x[j] * scale - shift);
    total += x[j];
  }
  return total;
}

// Query heads of a group whose weighted sums are accumulated together, sharing each loaded
// value vector.
constexpr std::size_t kHeadsTogether = 4;

// For the H rows h that see the same keys: sums[h][d .. d + C * kWidth) = sums[h] *
// correction[h] + sum_j weights[h][j] * values[j], the H x C accumulators held in registers
// across the keys, so that each value vector loaded serves H rows.
template <typename T, std::size_t H, std::size_t C>
void AccumulateVectors(float* const* sums, const float* correction, const float* const* weights,
                       const float* const* values, std::size_t count, std::size_t d) {
  typename T::V acc[H][C];
  for (std::size_t h = 0; h < H; ++h) {
    for (std::size_t c = 0; c < C; ++c) {
      acc[h][c] = T::Mul(T::Load(sums[h] + d + c * T::kWidth), T::Set(correction[h]));
    }
  }
  for (std::size_t j = 0; j < count; ++j) {
    typename T::V v[C];
    for (std::size_t c = 0; c < C; ++c) v[c] = T::Load(values[j] + d + c * T::kWidth);
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
template <typename T, std::size_t H>
void RescaleAccumulate(float* const* sums, const float* correction, const float* const* weights,
                       const float* const* values, std::size_t count, std::size_t dim) {
  constexpr std::size_t C = T::kWidth >= 16 ? 4 : 2;
  std::size_t d = 0;
  for (; d + C * T::kWidth <= dim; d += C * T::kWidth) {
    AccumulateVectors<T, H, C>(sums, correction, weights, values, count, d);
  }
  for (; d + T::kWidth <= dim; d += T::kWidth) {
    AccumulateVectors<T, H, 1>(sums, correction, weights, values, count, d);
  }
  for (; d < dim; ++d) {
    for (std::size_t h = 0; h < H; ++h) {
      float acc = sums[h][d] * correction[h];
      for (std::size_t j = 0; j < count; ++j) acc += weights[h][j] * values[j][d];
      sums[h][d] = acc;
    }
  }
}

// Scores one query row against the block's keys [b, e), folds the scores into the row's
// running maximum and total, and leaves in w[b, e) their weights e^(score - new maximum).
// Returns the factor e^(old maximum - new maximum) for the row's earlier sums.
template <typename T>
float ScoreBlock(const float* query, const float* const* keys, std::size_t b, std::size_t e,
                 std::size_t head_dim, float scale, float& max, float& total, float* w) {
  // Scores of keys this row does not see are computed with the others and ignored.
  for (std::size_t j = b / T::kWidth * T::kWidth; j < e; j += T::kWidth) {
    DotMany<T>(query, keys + j, head_dim, w + j);
  }
  float block_max = -__builtin_inff();
  for (std::size_t j = b; j < e; ++j) block_max = MaxFloat(block_max, w[j]);
  const float new_max = MaxFloat(max, block_max * scale);
  // e^-inf = 0 exactly on a row's first block, which clears nothing but the zeros.
  const float correction = __builtin_expf(max - new_max);
  total = total * correction + ExpShifted<T>(w + b, e - b, scale, new_max);
  max = new_max;
  return correction;
}

// Row-pointer of position s in a paged cache (key or value blocks) of Element rows.
template <typename Element>
const Element* CacheRow(const void* const* blocks, std::size_t block_tokens,
                        std::size_t row_elements, std::size_t s) {
  return static_cast<const Element*>(blocks[s / block_tokens]) + s % block_tokens * row_elements;
}

// Row formats: how one kv head's slice of kKeyBlock cache rows becomes the fp32 vectors that
// the scores and sums read. ViewHead points rows[j] at the slice of cache_rows[j] starting at
// `offset`, head_dim floats, for j < count; rows past `count` repeat the last one.
//
// fp32 rows are read in place.
struct F32Rows {
  using Element = float;
  static void ViewHead(const float* const* cache_rows, std::size_t count, std::size_t offset,
                       std::size_t /*head_dim*/, float* /*widened*/, const float** rows) {
    for (std::size_t j = 0; j < count; ++j) rows[j] = cache_rows[j] + offset;
    for (std::size_t j = count; j < kKeyBlock; ++j) rows[j] = rows[count - 1];
  }
};

// bf16 rows are widened into `widened` ([kKeyBlock, head_dim] floats), once for all the query
// heads of the kv head and positions of the tile: every query head of the group reads each key
// and value, and widening at each read would repeat the conversion group-size times.
template <typename T>
struct Bf16Rows {
  using Element = std::uint16_t;
  static void ViewHead(const std::uint16_t* const* cache_rows, std::size_t count,
                       std::size_t offset, std::size_t head_dim, float* widened,
                       const float** rows) {
    for (std::size_t j = 0; j < count; ++j) {
      const std::uint16_t* in = cache_rows[j] + offset;
      float* out = widened + j * head_dim;
      std::size_t d = 0;
      for (; d + T::kWidth <= head_dim; d += T::kWidth) T::Store(out + d, T::LoadBf16(in + d));
      for (; d < head_dim; ++d) out[d] = ScalarVec::LoadBf16(in + d);
      rows[j] = out;
    }
    for (std::size_t j = count; j < kKeyBlock; ++j) rows[j] = rows[count - 1];
  }
};

template <typename T, typename Rows>
void AttendTile(const AttentionDims& dims, const float* q, std::size_t first,
                const PagedKvBlocks& kv, const TileRange& range, const TileState& state) {
  static_assert(kKeyBlock % T::kWidth == 0, "DotMany scores whole vectors of keys");
  using Element = typename Rows::Element;
  const std::size_t head_dim = dims.head_dim;
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
  const float* keys[kKeyBlock];
  const float* values[kKeyBlock];
  float weights[kHeadsTogether][kKeyBlock];
  for (std::size_t s0 = lo; s0 < hi; s0 += kKeyBlock) {
    // A short last block repeats its last row (ViewHead), so that DotMany always reads whole
    // groups.
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
      Rows::ViewHead(key_rows, count, kv_head * head_dim, head_dim, state.widened, keys);
      Rows::ViewHead(value_rows, count, kv_head * head_dim, head_dim,
                     state.widened + kKeyBlock * head_dim, values);
      for (std::size_t t = range.t_begin; t < range.t_end; ++t) {
        const std::size_t begin = MaxSize(OldestVisible(first + t, dims.sliding_window), s0);
        const std::size_t end = MinSize(first + t + 1, s0 + count);
        if (begin >= end) continue;  // position t sees none of this block
        const std::size_t b = begin - s0;
        const std::size_t e = end - s0;
        for (std::size_t h0 = kv_head * group; h0 < (kv_head + 1) * group; h0 += kHeadsTogether) {
          const std::size_t heads = MinSize(kHeadsTogether, (kv_head + 1) * group - h0);
          float* row_sums[kHeadsTogether];
          float correction[kHeadsTogether];
          const float* row_weights[kHeadsTogether];
          for (std::size_t k = 0; k < heads; ++k) {
            const std::size_t i = (t - range.t_begin) * dims.num_heads + h0 + k;
            correction[k] =
                ScoreBlock<T>(q + t * q_stride + (h0 + k) * head_dim, keys, b, e, head_dim, scale,
                              state.max[i], state.total[i], weights[k]);
            row_sums[k] = state.sums + i * head_dim;
            row_weights[k] = weights[k] + b;
          }
          if (heads == kHeadsTogether) {
            RescaleAccumulate<T, kHeadsTogether>(row_sums, correction, row_weights, values + b,
                                                 e - b, head_dim);
          } else {
            for (std::size_t k = 0; k < heads; ++k) {
              RescaleAccumulate<T, 1>(row_sums + k, correction + k, row_weights + k, values + b,
                                      e - b, head_dim);
            }
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_ATTENTION_KERNEL_H_
