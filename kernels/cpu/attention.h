// Causal grouped-query attention over a paged KV cache, on fp32 queries, keys and values stored
// as fp32 or bf16 (kv_dtype.h). Plain C++: no absl, no engine types.
//
// One pass over the cached keys and values per tile of new positions: each cache row is read
// once for all of its kv heads, every key or value vector loaded serves several query heads of
// its group, the softmax is streamed (running maximum and sum, rescaled as the maximum grows),
// and nothing is gathered or copied (bf16 rows are widened to fp32 once per block of keys and
// kv head, into a small buffer all the group's query heads read; see AttentionIsa for a layout
// that also transposes them). Entry points dispatch once, at first use, to the best variant this
// CPU supports, and split the tiles (or, for one tile, as in decode, ranges of the cached
// positions, merged afterwards, or for a cache too short for that, the kv heads) across the
// thread pool.
#ifndef GHOST_KERNELS_CPU_ATTENTION_H_
#define GHOST_KERNELS_CPU_ATTENTION_H_

#include <cstddef>

#include "kernels/cpu/kv_dtype.h"

namespace ghost::kernels {

struct AttentionDims {
  std::size_t num_heads = 0;
  std::size_t num_kv_heads = 0;  // divides num_heads
  std::size_t head_dim = 0;
  // 0: every earlier position is visible. Else the query at position p sees the keys at
  // positions p - sliding_window < s <= p (Hugging Face's convention, `window` positions
  // counting its own).
  std::size_t sliding_window = 0;
};

// The attention variants: one per CpuIsa, and a second AVX-512 one for bf16 caches that
// transposes each block of keys, one key per vector lane, so that a query head scores a block
// with multiply-adds into one vector, without reducing across lanes, and eight heads share each
// key vector loaded. Its results differ from the others' only in the order of fp32 additions.
// It serves head sizes 64 and 128; other sizes, and fp32 caches, take the AVX-512 tiles.
enum class AttentionIsa { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Transposed = 3 };

// Whether this CPU can run `isa`.
bool AttentionIsaSupported(AttentionIsa isa);
// The fastest supported variant, chosen once from CPUID: the transposed AVX-512 one where
// AVX-512 is present, else the variant of DetectedIsa().
AttentionIsa DetectedAttentionIsa();
// "scalar", "avx2", "avx512", "avx512-transposed".
const char* AttentionIsaName(AttentionIsa isa);

// One sequence's keys and values of one layer: position s is row s % block_tokens of
// key_blocks[s / block_tokens] (values alike); a row holds num_kv_heads * head_dim elements of
// `dtype` (float, or bf16 as raw uint16 bit patterns), kv head h at offset h * head_dim.
struct PagedKvBlocks {
  const void* const* key_blocks = nullptr;
  const void* const* value_blocks = nullptr;
  std::size_t block_tokens = 0;
  KvDtype dtype = KvDtype::kF32;
};

// Attention of the n new positions [first, first + n) over the cache, which already holds
// positions [0, first + n). q and out: [n, num_heads * head_dim]; query head h uses kv head
// h / (num_heads / num_kv_heads). Scores are scaled by 1 / sqrt(head_dim).
void PagedAttention(const AttentionDims& dims, const float* q, std::size_t n, std::size_t first,
                    const PagedKvBlocks& kv, float* out);

// An explicit variant, for tests and benchmarks; check AttentionIsaSupported() first.
void PagedAttentionIsa(AttentionIsa isa, const AttentionDims& dims, const float* q, std::size_t n,
                       std::size_t first, const PagedKvBlocks& kv, float* out);

// One sequence of a batched call: what PagedAttention takes for it.
struct AttentionSequence {
  const float* q = nullptr;
  std::size_t n = 0;
  std::size_t first = 0;
  PagedKvBlocks kv;
  float* out = nullptr;
};

// PagedAttention for every sequence of a step (the same layer and dims), as one pool call:
// the work of all of them (tiles of positions, kv heads, ranges of cached positions) is split
// across the threads together, so a step of a few long decodes and one short one keeps every
// core busy. Outputs are the same as one PagedAttention call per sequence.
void PagedAttentionBatch(const AttentionDims& dims, const AttentionSequence* sequences,
                         std::size_t count);
void PagedAttentionBatchIsa(AttentionIsa isa, const AttentionDims& dims,
                            const AttentionSequence* sequences, std::size_t count);

}  // namespace ghost::kernels

#endif  // GHOST_KERNELS_CPU_ATTENTION_H_
