// The transposed attention tile for a bf16 cache (AVX-512 F): per block of kKeyBlock keys and
// per kv head,
// - the keys are transposed into KeyLanes, one vector per dim holding that dim of every key of
//   the block, one key per lane, so that a query row scores all the block's keys with plain
//   multiply-adds (its query's dims broadcast from memory into the instruction) into one vector
//   of scores, with no reduction across lanes, and up to kRowsPerSet rows (heads and positions
//   of the kv head) share each key vector loaded;
// - the values are widened to fp32 rows, which the rows' weights, broadcast, multiply.
// The softmax of a row's block is then one vector too. fp32 throughout, as the other variants:
// its results differ from theirs only by the order of fp32 additions.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/attention_internal.h"
#include "kernels/cpu/prefetch.h"
#include "kernels/cpu/vec_avx512.h"

namespace ghost::kernels::internal {
namespace {

// Query rows scored together: two partial sums each in registers, and each key vector loaded
// serves all of them.
constexpr std::size_t kRowsPerSet = 8;
// Rows accumulating their weighted sums together (4 rows x 64 dims in 16 registers).
constexpr std::size_t kRowsPerAccumulation = 4;

static_assert(kKeyBlock == 16, "one key per fp32 lane of a vector");

inline std::size_t MinSize(std::size_t a, std::size_t b) { return a < b ? a : b; }
inline std::size_t MaxSize(std::size_t a, std::size_t b) { return a > b ? a : b; }

inline std::size_t OldestVisible(std::size_t position, std::size_t window) {
  return window > 0 && position >= window ? position + 1 - window : 0;
}

// One kv head's slice of a block of keys: dims[d][j] = dim d of key j.
template <std::size_t kDim>
struct KeyLanes {
  alignas(64) float dims[kDim][kKeyBlock];
};

// One kv head's slice of a block of values, widened: rows[j] = value j, each 32 dims 32m ..
// 32m + 31 stored as the even ones, then the odd ones (ValueOrder), which a shift and a mask of
// their bf16 pairs give without a shuffle.
template <std::size_t kDim>
struct ValueRows {
  alignas(64) float rows[kKeyBlock][kDim];
};

// The 16 x 16 transpose of 32-bit elements: rows[j] lane c -> columns[c] lane j.
inline void Transpose16x16(const __m512i* rows, __m512i* columns) {
  __m512i pairs[16];
  for (int i = 0; i < 8; ++i) {
    pairs[2 * i] = _mm512_unpacklo_epi32(rows[2 * i], rows[2 * i + 1]);
    pairs[2 * i + 1] = _mm512_unpackhi_epi32(rows[2 * i], rows[2 * i + 1]);
  }
  // quads[4i + k], 128-bit lane L: rows 4i .. 4i + 3 of column 4L + k.
  __m512i quads[16];
  for (int i = 0; i < 4; ++i) {
    quads[4 * i] = _mm512_unpacklo_epi64(pairs[4 * i], pairs[4 * i + 2]);
    quads[4 * i + 1] = _mm512_unpackhi_epi64(pairs[4 * i], pairs[4 * i + 2]);
    quads[4 * i + 2] = _mm512_unpacklo_epi64(pairs[4 * i + 1], pairs[4 * i + 3]);
    quads[4 * i + 3] = _mm512_unpackhi_epi64(pairs[4 * i + 1], pairs[4 * i + 3]);
  }
  for (int k = 0; k < 4; ++k) {
    const __m512i even01 = _mm512_shuffle_i32x4(quads[k], quads[4 + k], 0x88);
    const __m512i odd01 = _mm512_shuffle_i32x4(quads[k], quads[4 + k], 0xDD);
    const __m512i even23 = _mm512_shuffle_i32x4(quads[8 + k], quads[12 + k], 0x88);
    const __m512i odd23 = _mm512_shuffle_i32x4(quads[8 + k], quads[12 + k], 0xDD);
    columns[k] = _mm512_shuffle_i32x4(even01, even23, 0x88);
    columns[8 + k] = _mm512_shuffle_i32x4(even01, even23, 0xDD);
    columns[4 + k] = _mm512_shuffle_i32x4(odd01, odd23, 0x88);
    columns[12 + k] = _mm512_shuffle_i32x4(odd01, odd23, 0xDD);
  }
}

// Key j's slice is kDim bf16 values at rows[j] + offset. The transpose moves pairs of bf16 (one
// 32-bit element: dims 2p and 2p + 1); a shift and a mask then widen each pair's two dims.
template <std::size_t kDim>
void TransposeKeys(const std::uint16_t* const* rows, std::size_t offset, KeyLanes<kDim>& out) {
  const __m512i high_half = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  for (std::size_t m = 0; m < kDim / 32; ++m) {
    __m512i in[kKeyBlock], columns[kKeyBlock];
    for (std::size_t j = 0; j < kKeyBlock; ++j) {
      in[j] = _mm512_loadu_si512(rows[j] + offset + 32 * m);
    }
    Transpose16x16(in, columns);
    for (std::size_t c = 0; c < 16; ++c) {
      const std::size_t d = 32 * m + 2 * c;
      _mm512_store_si512(out.dims[d], _mm512_slli_epi32(columns[c], 16));
      _mm512_store_si512(out.dims[d + 1], _mm512_and_si512(columns[c], high_half));
    }
  }
}

template <std::size_t kDim>
void WidenValues(const std::uint16_t* const* rows, std::size_t offset, ValueRows<kDim>& out) {
  const __m512i high_half = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  for (std::size_t j = 0; j < kKeyBlock; ++j) {
    for (std::size_t d = 0; d < kDim; d += 32) {
      const __m512i pairs = _mm512_loadu_si512(rows[j] + offset + d);
      _mm512_store_si512(out.rows[j] + d, _mm512_slli_epi32(pairs, 16));
      _mm512_store_si512(out.rows[j] + d + 16, _mm512_and_si512(pairs, high_half));
    }
  }
}

// A row's sums built up in ValueRows' order, put back in dim order, in place.
template <std::size_t kDim>
void RestoreDimOrder(float* sums) {
  const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i second =
      _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (std::size_t d = 0; d < kDim; d += 32) {
    const __m512 even = _mm512_loadu_ps(sums + d);
    const __m512 odd = _mm512_loadu_ps(sums + d + 16);
    _mm512_storeu_ps(sums + d, _mm512_permutex2var_ps(even, first, odd));
    _mm512_storeu_ps(sums + d + 16, _mm512_permutex2var_ps(even, second, odd));
  }
}

// One query row of the tile: its query, where its state lives and which keys it sees.
struct Row {
  const float* query;
  std::size_t state_row;  // index into TileState's rows
  std::size_t key_begin;  // the keys it sees: [key_begin, key_end)
  std::size_t key_end;
};

// scores[r] lane j = query r . key j, for R rows.
template <std::size_t kDim, std::size_t R>
[[gnu::always_inline]] inline void ScoreRows(const KeyLanes<kDim>& keys, const Row* rows,
                                             __m512* scores) {
  // Two chains per row (even and odd dims), so that 2R multiply-adds are in flight.
  __m512 even[R], odd[R];
  for (std::size_t r = 0; r < R; ++r) even[r] = odd[r] = _mm512_setzero_ps();
  for (std::size_t d = 0; d < kDim; d += 2) {
    const __m512 key_even = _mm512_load_ps(keys.dims[d]);
    const __m512 key_odd = _mm512_load_ps(keys.dims[d + 1]);
    for (std::size_t r = 0; r < R; ++r) {
      even[r] = _mm512_fmadd_ps(_mm512_set1_ps(rows[r].query[d]), key_even, even[r]);
      odd[r] = _mm512_fmadd_ps(_mm512_set1_ps(rows[r].query[d + 1]), key_odd, odd[r]);
    }
  }
  for (std::size_t r = 0; r < R; ++r) scores[r] = _mm512_add_ps(even[r], odd[r]);
}

// The lane that holds row r's value in the result of ReduceRows.
constexpr std::size_t RowLane(std::size_t r) { return r < 4 ? r : r + 4; }

// Reduces each of v[0 .. 8) over its lanes with op, row r's result in lane RowLane(r): one
// transposing tree for all eight rather than a tree per vector.
template <typename Op>
[[gnu::always_inline]] inline __m512 ReduceRows(const __m512* v, Op op) {
  __m512 pairs[4];  // 128-bit lane L: a0 b0 a1 b1 of v[2i], v[2i + 1] over lane L, halved
  for (int i = 0; i < 4; ++i) {
    pairs[i] =
        op(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  }
  __m512 quads[2];  // 128-bit lane L, element e: v[4i + e] reduced over lane L
  for (int i = 0; i < 2; ++i) {
    const __m512d a = _mm512_castps_pd(pairs[2 * i]);
    const __m512d b = _mm512_castps_pd(pairs[2 * i + 1]);
    quads[i] =
        op(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)), _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  const __m512 halves = op(_mm512_shuffle_f32x4(quads[0], quads[1], 0x44),
                           _mm512_shuffle_f32x4(quads[0], quads[1], 0xEE));
  return op(halves, _mm512_shuffle_f32x4(halves, halves, 0xB1));
}

// Folds the R rows' scores of the block (row r sees the keys in visible[r], maybe none) into
// their running maxima and totals, all rows at once; writes their weights e^(score * scale -
// new maximum), 0 for the keys a row does not see, and the factors e^(old maximum - new
// maximum) for their earlier sums.
template <std::size_t R>
[[gnu::always_inline]] inline void SoftmaxRows(const __m512* scores, const __mmask16* visible,
                                               const std::size_t* state_rows, float scale,
                                               const TileState& state, float (*weights)[kKeyBlock],
                                               float* correction) {
  const __m512 minus_infinity = _mm512_set1_ps(-__builtin_inff());
  __m512 scaled[8];
  for (std::size_t r = 0; r < 8; ++r) {
    scaled[r] =
        r < R ? _mm512_mask_mul_ps(minus_infinity, visible[r], scores[r], _mm512_set1_ps(scale))
              : minus_infinity;
  }
  const __m512 block_max =
      ReduceRows(scaled, [](__m512 a, __m512 b) { return _mm512_max_ps(a, b); });
  // Lanes no row uses hold zeros.
  alignas(64) float max[16], total[16], factor[16];
  _mm512_store_ps(max, _mm512_setzero_ps());
  _mm512_store_ps(total, _mm512_setzero_ps());
  for (std::size_t r = 0; r < R; ++r) {
    max[RowLane(r)] = state.max[state_rows[r]];
    total[RowLane(r)] = state.total[state_rows[r]];
  }
  // Past the first blocks a maximum rarely grows. The first block's old maximum is -inf: Exp
  // clamps, and the sums it scales are zeros.
  const __m512 old_max = _mm512_load_ps(max);
  const __mmask16 grows = _mm512_cmp_ps_mask(block_max, old_max, _CMP_GT_OQ);
  const __m512 new_max = _mm512_mask_mov_ps(old_max, grows, block_max);
  _mm512_store_ps(max, new_max);
  _mm512_store_ps(factor, _mm512_mask_mov_ps(_mm512_set1_ps(1.0f), grows,
                                             Exp<Avx512Vec>(_mm512_sub_ps(old_max, new_max))));
  __m512 p[8];
  for (std::size_t r = 0; r < 8; ++r) {
    if (r >= R) {
      p[r] = _mm512_setzero_ps();
      continue;
    }
    // Exp clamps e^-inf to 1e-38: the keys a row does not see must weigh exactly nothing.
    p[r] = _mm512_maskz_mov_ps(
        visible[r], Exp<Avx512Vec>(_mm512_sub_ps(scaled[r], _mm512_set1_ps(max[RowLane(r)]))));
    _mm512_store_ps(weights[r], p[r]);
  }
  const __m512 block_total = ReduceRows(p, [](__m512 a, __m512 b) { return _mm512_add_ps(a, b); });
  _mm512_store_ps(total,
                  _mm512_fmadd_ps(_mm512_load_ps(total), _mm512_load_ps(factor), block_total));
  for (std::size_t r = 0; r < R; ++r) {
    state.max[state_rows[r]] = max[RowLane(r)];
    state.total[state_rows[r]] = total[RowLane(r)];
    correction[r] = factor[RowLane(r)];
  }
}

// sums[r][c0 * 16, (c0 + C) * 16) = sums[r] * correction[r] + sum_j weights[r][j] * value j
// there, for R rows, the R x C accumulators in registers across the block's keys.
template <std::size_t kDim, std::size_t R>
[[gnu::always_inline]] inline void AccumulateRows(const ValueRows<kDim>& values,
                                                  const float (*weights)[kKeyBlock],
                                                  float* const* sums, const float* correction,
                                                  std::size_t c0) {
  constexpr std::size_t C = kDim / 16 < 4 ? kDim / 16 : 4;
  __m512 acc[R][C];
  for (std::size_t r = 0; r < R; ++r) {
    const __m512 factor = _mm512_set1_ps(correction[r]);
    for (std::size_t c = 0; c < C; ++c) {
      acc[r][c] = _mm512_mul_ps(_mm512_loadu_ps(sums[r] + 16 * (c0 + c)), factor);
    }
  }
  for (std::size_t j = 0; j < kKeyBlock; ++j) {
    __m512 v[C];
    for (std::size_t c = 0; c < C; ++c) v[c] = _mm512_load_ps(values.rows[j] + 16 * (c0 + c));
    for (std::size_t r = 0; r < R; ++r) {
      const __m512 w = _mm512_set1_ps(weights[r][j]);
      for (std::size_t c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(w, v[c], acc[r][c]);
    }
  }
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t c = 0; c < C; ++c) _mm512_storeu_ps(sums[r] + 16 * (c0 + c), acc[r][c]);
  }
}

template <std::size_t kDim, std::size_t R>
void AccumulateRowsAllDims(const ValueRows<kDim>& values, const float (*weights)[kKeyBlock],
                           float* const* sums, const float* correction) {
  for (std::size_t c0 = 0; c0 < kDim / 16; c0 += 4) {
    AccumulateRows<kDim, R>(values, weights, sums, correction, c0);
  }
}

// R rows of one kv head over one block, keys [s0, s0 + keys).
template <std::size_t kDim, std::size_t R>
void AttendRowSet(const KeyLanes<kDim>& key_lanes, const ValueRows<kDim>& value_rows,
                  const Row* rows, std::size_t s0, std::size_t keys, float scale,
                  const TileState& state) {
  // The block's keys each row sees, [begin[r], end[r]) counted from s0; none where they are
  // equal (a prefill row before the block's keys, or past its window).
  std::size_t begin[R], end[R];
  bool any = false;
  for (std::size_t r = 0; r < R; ++r) {
    const std::size_t b = MaxSize(rows[r].key_begin, s0);
    const std::size_t e = MinSize(rows[r].key_end, s0 + keys);
    begin[r] = e > b ? b - s0 : 0;
    end[r] = e > b ? e - s0 : 0;
    any = any || e > b;
  }
  if (!any) return;
  __m512 scores[R];
  ScoreRows<kDim, R>(key_lanes, rows, scores);
  __mmask16 visible[R];
  std::size_t state_rows[R];
  float* sums[R];
  for (std::size_t r = 0; r < R; ++r) {
    visible[r] =
        static_cast<__mmask16>((std::uint32_t{1} << end[r]) - (std::uint32_t{1} << begin[r]));
    state_rows[r] = rows[r].state_row;
    sums[r] = state.sums + rows[r].state_row * kDim;
  }
  alignas(64) float weights[R][kKeyBlock];
  float correction[R];
  SoftmaxRows<R>(scores, visible, state_rows, scale, state, weights, correction);
  for (std::size_t r0 = 0; r0 + kRowsPerAccumulation <= R; r0 += kRowsPerAccumulation) {
    AccumulateRowsAllDims<kDim, kRowsPerAccumulation>(value_rows, weights + r0, sums + r0,
                                                      correction + r0);
  }
  for (std::size_t r = R / kRowsPerAccumulation * kRowsPerAccumulation; r < R; ++r) {
    AccumulateRowsAllDims<kDim, 1>(value_rows, weights + r, sums + r, correction + r);
  }
}

template <std::size_t kDim>
using RowSetFn = void (*)(const KeyLanes<kDim>&, const ValueRows<kDim>&, const Row*, std::size_t,
                          std::size_t, float, const TileState&);

// Indexed by the number of rows in the set, 1 .. kRowsPerSet.
template <std::size_t kDim>
constexpr RowSetFn<kDim> kRowSets[kRowsPerSet] = {
    AttendRowSet<kDim, 1>, AttendRowSet<kDim, 2>, AttendRowSet<kDim, 3>, AttendRowSet<kDim, 4>,
    AttendRowSet<kDim, 5>, AttendRowSet<kDim, 6>, AttendRowSet<kDim, 7>, AttendRowSet<kDim, 8>};

// rows[j] = the cache row of position s0 + min(j, count - 1), for j < kKeyBlock: rows past the
// block's keys repeat its last one (weighted 0). One division per block, not one per row.
void BlockRows(const void* const* blocks, std::size_t block_tokens, std::size_t row_elements,
               std::size_t s0, std::size_t count, const std::uint16_t** rows) {
  std::size_t block = s0 / block_tokens;
  std::size_t within = s0 % block_tokens;
  for (std::size_t j = 0; j < count; ++j) {
    rows[j] = static_cast<const std::uint16_t*>(blocks[block]) + within * row_elements;
    if (++within == block_tokens) within = 0, ++block;
  }
  for (std::size_t j = count; j < kKeyBlock; ++j) rows[j] = rows[count - 1];
}

// The tile's rows are numbered kv head by kv head, then position by position, then query head
// by query head, so that a set of consecutive rows shares its kv head; state.scratch holds
// their Rows.
template <std::size_t kDim>
void AttendTileOfDim(const AttentionDims& dims, const float* q, std::size_t first,
                     const PagedKvBlocks& kv, const TileRange& range, const TileState& state) {
  static_assert(sizeof(Row) <= kTileScratchFloatsPerRow * sizeof(float), "scratch per row");
  const std::size_t group = dims.num_heads / dims.num_kv_heads;
  const std::size_t q_stride = dims.num_heads * kDim;
  const std::size_t kv_stride = dims.num_kv_heads * kDim;
  const std::size_t kv_head_begin = range.kv_head_begin;
  const std::size_t kv_head_end = MinSize(range.kv_head_end, dims.num_kv_heads);
  const std::size_t head_rows = (range.t_end - range.t_begin) * group;  // per kv head
  Row* const rows = reinterpret_cast<Row*>(state.scratch);
  std::size_t r = 0;
  for (std::size_t kv_head = kv_head_begin; kv_head < kv_head_end; ++kv_head) {
    for (std::size_t t = range.t_begin; t < range.t_end; ++t) {
      const std::size_t key_begin =
          MaxSize(range.key_begin, OldestVisible(first + t, dims.sliding_window));
      const std::size_t key_end = MinSize(range.key_end, first + t + 1);
      for (std::size_t h = kv_head * group; h < (kv_head + 1) * group; ++h, ++r) {
        const std::size_t i = (t - range.t_begin) * dims.num_heads + h;
        state.max[i] = -__builtin_inff();
        state.total[i] = 0.0f;
        for (std::size_t d = 0; d < kDim; ++d) state.sums[i * kDim + d] = 0.0f;
        rows[r] = {q + t * q_stride + h * kDim, i, key_begin, key_end};
      }
    }
  }

  // The keys some row of the tile sees, within the range asked for: the first position sees
  // the oldest, the last the newest.
  const std::size_t lo =
      MaxSize(range.key_begin, OldestVisible(first + range.t_begin, dims.sliding_window));
  const std::size_t hi = MinSize(range.key_end, first + range.t_end);
  const std::size_t head_offset = kv_head_begin * kDim;  // of the range's heads in a row
  const std::size_t head_bytes = (kv_head_end - kv_head_begin) * kDim * sizeof(std::uint16_t);
  const float scale = 1.0f / __builtin_sqrtf(static_cast<float>(kDim));
  KeyLanes<kDim> key_lanes;
  ValueRows<kDim> value_rows;
  // The cache rows of this block and the next, at the range's first kv head. Finding the next
  // block's also fetches every line of them, as the AVX-512 tile does. (One line per 128-byte
  // pair, leaving the other to the adjacent-line prefetcher, was 8% faster with the cache in L1,
  // but decode from memory on a loaded machine was then slower than the AVX-512 tile's.)
  const std::uint16_t* key_rows[2][kKeyBlock];
  const std::uint16_t* value_rows_in_cache[2][kKeyBlock];
  const auto find_rows = [&](std::size_t s, int slot) {
    const std::size_t count = MinSize(kKeyBlock, hi - s);
    BlockRows(kv.key_blocks, kv.block_tokens, kv_stride, s, count, key_rows[slot]);
    BlockRows(kv.value_blocks, kv.block_tokens, kv_stride, s, count, value_rows_in_cache[slot]);
    for (std::size_t j = 0; j < count; ++j) {
      PrefetchBytes(key_rows[slot][j] + head_offset, head_bytes);
      PrefetchBytes(value_rows_in_cache[slot][j] + head_offset, head_bytes);
    }
  };
  if (lo < hi) find_rows(lo, 0);
  int slot = 0;
  for (std::size_t s0 = lo; s0 < hi; s0 += kKeyBlock, slot ^= 1) {
    const std::size_t keys = MinSize(kKeyBlock, hi - s0);
    // Fetch the next block's rows (the range's heads of them) while this one is computed; the
    // kv heads read each row in pieces, a stride the hardware prefetchers follow poorly.
    if (s0 + kKeyBlock < hi) find_rows(s0 + kKeyBlock, slot ^ 1);
    for (std::size_t kv_head = kv_head_begin; kv_head < kv_head_end; ++kv_head) {
      const std::size_t offset = kv_head * kDim;
      TransposeKeys<kDim>(key_rows[slot], offset, key_lanes);
      WidenValues<kDim>(value_rows_in_cache[slot], offset, value_rows);
      const std::size_t head_first_row = (kv_head - kv_head_begin) * head_rows;
      for (std::size_t r0 = head_first_row; r0 < head_first_row + head_rows; r0 += kRowsPerSet) {
        const std::size_t count = MinSize(kRowsPerSet, head_first_row + head_rows - r0);
        kRowSets<kDim>[count - 1](key_lanes, value_rows, rows + r0, s0, keys, scale, state);
      }
    }
  }
  for (std::size_t i = 0; i < r; ++i) RestoreDimOrder<kDim>(state.sums + rows[i].state_row * kDim);
}

}  // namespace

void AttendTileBf16Avx512Transposed(const AttentionDims& dims, const float* q, std::size_t first,
                                    const PagedKvBlocks& kv, const TileRange& range,
                                    const TileState& state) {
  switch (dims.head_dim) {
    case 64:
      return AttendTileOfDim<64>(dims, q, first, kv, range, state);
    case 128:
      return AttendTileOfDim<128>(dims, q, first, kv, range, state);
    default:
      return AttendTileBf16Avx512(dims, q, first, kv, range, state);
  }
}

}  // namespace ghost::kernels::internal
