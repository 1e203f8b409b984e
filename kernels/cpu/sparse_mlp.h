// Row-packed sparse MLP: the up and down projections of a SwiGLU MLP for only the neurons
// whose gate activation survived thresholding. Plain C++ like matmul.h.
//
// The caller has run the gate projection and zeroed the inactive neurons of
// h = silu(gate(x)). Then, per token,
//   out = sum over j with h[j] != 0 of (h[j] * (up[j] . x)) * down_t[j]
// where up is [inner, hidden] and down_t = down^T is [inner, hidden] too, so that every
// neuron is one contiguous row of each. The active indices are gathered once (branch-free
// compaction), then the kernel runs contiguous row dot products and row AXPYs, split over
// the thread pool by neuron (each thread sums into its own output, added at the end).
//
// Batches (n > 1) are processed token by token, each with its own active set: at decode
// batch sizes the union of active sets grows quickly (at 50% sparsity, 4 tokens already
// leave ~94% of neurons active), so a union would read most rows anyway while a per-token
// pass reads exactly the active rows, and their weights are re-read from cache, not memory,
// when tokens share neurons and rows fit in cache.
#ifndef GHOST_KERNELS_CPU_SPARSE_MLP_H_
#define GHOST_KERNELS_CPU_SPARSE_MLP_H_

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quant_matmul.h"

namespace ghost::kernels {

// One [inner, hidden] weight matrix: exactly one of the pointers is set. bf16 and fp16 as raw
// bits.
struct MlpWeights {
  const float* f32 = nullptr;
  const std::uint16_t* bf16 = nullptr;
  const std::uint16_t* f16 = nullptr;
  const QuantWeights* quant = nullptr;  // rows() == inner, cols() == hidden
};

// Writes the indices j < inner with h[j] != 0, ascending, to active (room for inner) and
// returns their count.
std::size_t GatherActive(const float* h, std::size_t inner, std::uint32_t* active);

// out[t, :] for t < n as above; x and out are [n, hidden], h is [n, inner].
void SparseMlp(const float* x, const float* h, std::size_t n, std::size_t hidden, std::size_t inner,
               const MlpWeights& up, const MlpWeights& down_t, float* out);
// Explicit variants, for tests and benchmarks; check IsaSupported() first.
void SparseMlpIsa(CpuIsa isa, const float* x, const float* h, std::size_t n, std::size_t hidden,
                  std::size_t inner, const MlpWeights& up, const MlpWeights& down_t, float* out);

}  // namespace ghost::kernels

#endif  // GHOST_KERNELS_CPU_SPARSE_MLP_H_
