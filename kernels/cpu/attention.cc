// The one place that chooses an attention variant and splits a call (the sequences of a step)
// across the thread pool: one task per tile of new positions, and for a decode sequence whose
// share of the work is more than one task, one task per range of its cached positions, merged
// afterwards, or where its cache is too short to split, one task per kv head.
#include "kernels/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <vector>

#include "kernels/cpu/attention_internal.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/thread_pool.h"

namespace ghost::kernels {
namespace {

using internal::TileRange;
using internal::TileState;

// Indexed by KvDtype, then AttentionIsa. The transposed variant has a tile of its own for bf16
// caches only; on an fp32 cache it runs the AVX-512 tile.
constexpr internal::AttendTileFn kAttendTile[][4] = {
    {internal::AttendTileF32Scalar, internal::AttendTileF32Avx2, internal::AttendTileF32Avx512,
     internal::AttendTileF32Avx512},
    {internal::AttendTileBf16Scalar, internal::AttendTileBf16Avx2, internal::AttendTileBf16Avx512,
     internal::AttendTileBf16Avx512Transposed}};
static_assert(std::size(kAttendTile) == static_cast<std::size_t>(KvDtype::kBf16) + 1);
static_assert(std::size(kAttendTile[0]) ==
              static_cast<std::size_t>(AttentionIsa::kAvx512Transposed) + 1);

static_assert(static_cast<int>(AttentionIsa::kScalar) == static_cast<int>(CpuIsa::kScalar) &&
                  static_cast<int>(AttentionIsa::kAvx2) == static_cast<int>(CpuIsa::kAvx2) &&
                  static_cast<int>(AttentionIsa::kAvx512) == static_cast<int>(CpuIsa::kAvx512),
              "each CpuIsa's plain attention variant has its value");

// Query rows (positions x query heads of one kv head) per tile, at least one position: their
// running sums stay in L1 while the keys and values stream past once.
constexpr std::size_t kTileRows = 32;
// The transposed tile keeps its rows' sums in L1 or L2 itself, a set of 8 rows at a time: it
// takes 4x the rows per tile, so that a long context's keys and values are read 4x less often.
constexpr std::size_t kTransposedTileRows = 128;
// Waking the workers costs some microseconds; below this many multiply-adds one core is
// faster on its own.
constexpr std::size_t kMinParallelMacs = std::size_t{1} << 16;
// The work is cut into a few pieces per thread, so that a core slowed by other load takes
// fewer; a decode sequence's keys are split into ranges of at least kMinSplitKeys.
constexpr std::size_t kSplitsPerThread = 2;
constexpr std::size_t kMinSplitKeys = 256;

// One task: positions [t_begin, t_end) of one sequence over its keys [key_begin, key_end),
// for the kv heads [kv_head_begin, kv_head_end). A unit over every key its rows see writes the
// output in place; one over a range of them (split >= 0) writes partial sums to be merged.
struct Unit {
  std::size_t sequence;
  internal::TileRange range;
  std::ptrdiff_t split;  // index of the unit's partial sums, or -1
};

struct Job {
  internal::AttendTileFn fn[2];  // by KvDtype
  const AttentionDims* dims;
  const AttentionSequence* sequences;
  const Unit* units;
  float* partials;  // each split's sums, max and total, back to back
};

// Grows once to the largest size seen; later calls allocate nothing.
template <typename Value>
Value* Grow(std::vector<Value>& buffer, std::size_t count) {
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

// The calling thread's TileState::scratch for a tile of `rows` query rows, 64-byte aligned.
float* TileScratch(std::size_t head_dim, std::size_t rows) {
  thread_local std::vector<float> scratch;
  constexpr std::size_t kAlignFloats = 64 / sizeof(float);
  float* start = Grow(scratch, internal::TileScratchFloats(head_dim, rows) + kAlignFloats);
  const std::size_t misalignment = reinterpret_cast<std::uintptr_t>(start) % 64 / sizeof(float);
  return misalignment == 0 ? start : start + (kAlignFloats - misalignment);
}

// A bound on the query rows of a unit over `range`.
std::size_t UnitRows(const AttentionDims& dims, const internal::TileRange& range) {
  return (range.t_end - range.t_begin) * dims.num_heads;
}

// Floats of one split's partial sums, max and total.
std::size_t PartialFloats(const AttentionDims& dims, const AttentionSequence& sequence) {
  return sequence.n * dims.num_heads * (dims.head_dim + 2);
}

// Split `split`'s sums, max and total, for a sequence of n positions.
internal::TileState SplitState(const Job& job, std::size_t n, std::size_t split_offset) {
  const std::size_t rows = n * job.dims->num_heads;
  float* base = job.partials + split_offset;
  return {base, base + rows * job.dims->head_dim, base + rows * (job.dims->head_dim + 1), nullptr};
}

// A unit over every key its rows see. The rows are laid out as the output's, so the sums
// build up in `out` itself and are divided by their totals at the end.
void AttendAndNormalize(const Job& job, const AttentionSequence& sequence,
                        const internal::TileRange& range) {
  const AttentionDims& dims = *job.dims;
  const std::size_t head_dim = dims.head_dim;
  const std::size_t group = dims.num_heads / dims.num_kv_heads;
  const std::size_t rows = (range.t_end - range.t_begin) * dims.num_heads;
  thread_local std::vector<float> scratch;
  float* max_and_total = Grow(scratch, 2 * rows);
  const TileState state{sequence.out + range.t_begin * dims.num_heads * head_dim, max_and_total,
                        max_and_total + rows, TileScratch(head_dim, rows)};
  job.fn[static_cast<int>(sequence.kv.dtype)](dims, sequence.q, sequence.first, sequence.kv, range,
                                              state);
  const std::size_t kv_head_end = std::min(range.kv_head_end, dims.num_kv_heads);
  for (std::size_t t = 0; t < range.t_end - range.t_begin; ++t) {
    for (std::size_t i = t * dims.num_heads + range.kv_head_begin * group;
         i < t * dims.num_heads + kv_head_end * group; ++i) {
      // Every row sees at least its own position, so its total is at least 1.
      const float inverse = 1.0f / state.total[i];
      for (std::size_t d = 0; d < head_dim; ++d) state.sums[i * head_dim + d] *= inverse;
    }
  }
}

void RunUnit(void* context, std::size_t task) {
  const Job& job = *static_cast<const Job*>(context);
  const Unit& unit = job.units[task];
  const AttentionSequence& sequence = job.sequences[unit.sequence];
  if (unit.split < 0) {
    AttendAndNormalize(job, sequence, unit.range);
    return;
  }
  TileState state = SplitState(job, sequence.n, static_cast<std::size_t>(unit.split));
  state.scratch = TileScratch(job.dims->head_dim, UnitRows(*job.dims, unit.range));
  job.fn[static_cast<int>(sequence.kv.dtype)](*job.dims, sequence.q, sequence.first, sequence.kv,
                                              unit.range, state);
}

// Rescales the sums and totals of a sequence's `splits` consecutive partials (from
// split_offset on) to each row's overall maximum and adds them up. A split whose keys a row
// does not see has max -inf and weighs e^-inf = 0.
void MergeSplits(const Job& job, const AttentionSequence& sequence, std::size_t split_offset,
                 std::size_t splits) {
  const std::size_t head_dim = job.dims->head_dim;
  const std::size_t rows = sequence.n * job.dims->num_heads;
  const std::size_t stride = PartialFloats(*job.dims, sequence);
  for (std::size_t i = 0; i < rows; ++i) {
    float max = -INFINITY;
    for (std::size_t s = 0; s < splits; ++s) {
      max = std::max(max, SplitState(job, sequence.n, split_offset + s * stride).max[i]);
    }
    float total = 0.0f;
    float* row = sequence.out + i * head_dim;
    std::fill_n(row, head_dim, 0.0f);
    for (std::size_t s = 0; s < splits; ++s) {
      const TileState state = SplitState(job, sequence.n, split_offset + s * stride);
      const float weight = std::exp(state.max[i] - max);
      total += weight * state.total[i];
      for (std::size_t d = 0; d < head_dim; ++d) row[d] += weight * state.sums[i * head_dim + d];
    }
    for (std::size_t d = 0; d < head_dim; ++d) row[d] /= total;
  }
}

// A sequence whose keys were split: where its partials start and how many.
struct SplitSequence {
  std::size_t sequence;
  std::size_t offset;
  std::size_t splits;
};

}  // namespace

bool AttentionIsaSupported(AttentionIsa isa) {
  switch (isa) {
    case AttentionIsa::kScalar:
      return IsaSupported(CpuIsa::kScalar);
    case AttentionIsa::kAvx2:
      return IsaSupported(CpuIsa::kAvx2);
    case AttentionIsa::kAvx512:
    case AttentionIsa::kAvx512Transposed:
      return IsaSupported(CpuIsa::kAvx512);
  }
  return false;
}

AttentionIsa DetectedAttentionIsa() {
  static const AttentionIsa isa = AttentionIsaSupported(AttentionIsa::kAvx512Transposed)
                                      ? AttentionIsa::kAvx512Transposed
                                      : static_cast<AttentionIsa>(DetectedIsa());
  return isa;
}

const char* AttentionIsaName(AttentionIsa isa) {
  switch (isa) {
    case AttentionIsa::kScalar:
      return "scalar";
    case AttentionIsa::kAvx2:
      return "avx2";
    case AttentionIsa::kAvx512:
      return "avx512";
    case AttentionIsa::kAvx512Transposed:
      return "avx512-transposed";
  }
  return "unknown";
}

void PagedAttentionBatchIsa(AttentionIsa isa, const AttentionDims& dims,
                            const AttentionSequence* sequences, std::size_t count) {
  ThreadPool& pool = ThreadPool::Default();
  const std::size_t threads = pool.num_threads();
  // Scores and weighted sums, counting every cached position for every row (an upper bound).
  std::size_t macs = 0;
  std::size_t base_units = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const AttentionSequence& sequence = sequences[i];
    macs += 2 * dims.num_heads * sequence.n * (sequence.first + sequence.n) * dims.head_dim;
    base_units += sequence.n;
  }
  if (base_units == 0) return;
  const bool parallel = threads > 1 && macs >= kMinParallelMacs;
  const std::size_t group = dims.num_heads / dims.num_kv_heads;
  const std::size_t pieces = threads * kSplitsPerThread;

  thread_local std::vector<Unit> units;
  thread_local std::vector<SplitSequence> split_sequences;
  units.clear();
  split_sequences.clear();
  std::size_t partial_floats = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const AttentionSequence& sequence = sequences[i];
    if (sequence.n == 0) continue;
    const std::size_t keys = sequence.first + sequence.n;
    if (sequence.n == 1 && !parallel) {
      units.push_back({i, {0, 1, 0, keys}, -1});
      continue;
    }
    // Prefill: tiles of positions over every key, one kv head each, so that a tile holds
    // several positions and each block of keys, once widened, serves all of them.
    const std::size_t tile_rows =
        isa == AttentionIsa::kAvx512Transposed ? kTransposedTileRows : kTileRows;
    const std::size_t positions_per_tile = std::max<std::size_t>(1, tile_rows / group);
    if (sequence.n > 1) {
      for (std::size_t t = 0; t < sequence.n; t += positions_per_tile) {
        for (std::size_t h = 0; h < dims.num_kv_heads; ++h) {
          units.push_back(
              {i, {t, std::min(t + positions_per_tile, sequence.n), 0, keys, h, h + 1}, -1});
        }
      }
      continue;
    }
    // A decode-like tile: its share of the pieces, as ranges of its keys.
    const std::size_t share =
        (pieces * dims.num_heads * sequence.n * keys * dims.head_dim * 2 + macs - 1) / macs;
    const std::size_t splits = std::min(share, keys / kMinSplitKeys);
    if (splits >= 2) {
      const std::size_t split_keys = (keys + splits - 1) / splits;
      split_sequences.push_back({i, partial_floats, 0});
      for (std::size_t k = 0; k < keys; k += split_keys) {
        units.push_back({i,
                         {0, sequence.n, k, std::min(k + split_keys, keys)},
                         static_cast<std::ptrdiff_t>(partial_floats)});
        partial_floats += PartialFloats(dims, sequence);
        ++split_sequences.back().splits;
      }
    } else if (share >= 2) {
      // Too short to split its keys, but its kv heads are independent and need no merge.
      for (std::size_t h = 0; h < dims.num_kv_heads; ++h) {
        units.push_back({i, {0, sequence.n, 0, keys, h, h + 1}, -1});
      }
    } else {
      units.push_back({i, {0, sequence.n, 0, keys}, -1});
    }
  }
  thread_local std::vector<float> partials;
  Job job{{kAttendTile[0][static_cast<int>(isa)], kAttendTile[1][static_cast<int>(isa)]},
          &dims,
          sequences,
          units.data(),
          Grow(partials, partial_floats)};
  if (parallel && units.size() > 1) {
    pool.Run(units.size(), RunUnit, &job);
  } else {
    for (std::size_t u = 0; u < units.size(); ++u) RunUnit(&job, u);
  }
  for (const SplitSequence& split : split_sequences) {
    MergeSplits(job, sequences[split.sequence], split.offset, split.splits);
  }
}

void PagedAttentionBatch(const AttentionDims& dims, const AttentionSequence* sequences,
                         std::size_t count) {
  PagedAttentionBatchIsa(DetectedAttentionIsa(), dims, sequences, count);
}

void PagedAttentionIsa(AttentionIsa isa, const AttentionDims& dims, const float* q, std::size_t n,
                       std::size_t first, const PagedKvBlocks& kv, float* out) {
  const AttentionSequence sequence{q, n, first, kv, out};
  PagedAttentionBatchIsa(isa, dims, &sequence, 1);
}

void PagedAttention(const AttentionDims& dims, const float* q, std::size_t n, std::size_t first,
                    const PagedKvBlocks& kv, float* out) {
  PagedAttentionIsa(DetectedAttentionIsa(), dims, q, n, first, kv, out);
}

}  // namespace ghost::kernels
