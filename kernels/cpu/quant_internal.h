// Internal to kernels/cpu: the int8 activations the low-bit kernels read, the per-ISA entry
// points quant_dispatch.cc and sparse_mlp.cc choose between, and the scalar address
// arithmetic of QuantLayout shared by the packers and the scalar reference.
#ifndef GHOST_KERNELS_CPU_QUANT_INTERNAL_H_
#define GHOST_KERNELS_CPU_QUANT_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/cpu/prefetch.h"
#include "kernels/cpu/quant_matmul.h"

namespace ghost::kernels::internal {

// n activation rows quantized to int8 and permuted into QuantLayout order.
struct PackedActivations {
  std::size_t n = 0;
  const std::int8_t* values = nullptr;  // token t at values + t * layout.activation_bytes
  // Per token, sum of its int8 values over each block, as float; groups_per_row * 16
  // entries (zero past the last block), so a kernel adds a group's 16 with one load.
  const float* block_sums = nullptr;
  std::size_t block_sums_stride = 0;
  const float* scales = nullptr;  // Per token: x ~= scale * int8 value.
};

// Storage behind PackedActivations, grown as needed and reused from call to call.
struct ActivationScratch {
  std::vector<std::uint8_t> bytes;
  std::vector<float> block_sums;
  std::vector<float> scales;
};

// Quantizes x [n, cols] for w's layout into scratch (values 64-byte aligned).
PackedActivations PackActivations(const float* x, std::size_t n, const QuantWeights& w,
                                  ActivationScratch& scratch);

// One token of PackActivations: writes every position of `out` (activation_bytes), the
// block sums (scale_stride floats) and returns the scale. Each value is round-half-away of
// x * (127 / max|x|), so that every packer yields the same bytes. The AVX-512 packer
// handles the 2-bit formats only.
using PackTokenFn = float (*)(const float* x, const QuantWeights& w, std::int8_t* out,
                              float* block_sums);
float PackTokenScalar(const float* x, const QuantWeights& w, std::int8_t* out, float* block_sums);
float PackTokenAvx512(const float* x, const QuantWeights& w, std::int8_t* out, float* block_sums);
// The calling thread's scratch; its storage is reused from call to call.
ActivationScratch& ThreadActivationScratch();

// y[t * ldy + i] = row (rows ? rows[i] : first + i) of W dotted with token t, i < count.
using QuantRowsFn = void (*)(const QuantWeights& w, const PackedActivations& x,
                             const std::uint32_t* rows, std::size_t first, std::size_t count,
                             float* y, std::size_t ldy);

// out_perm[AxpyPosition(p)] += sum_i coefs[i] * W[rows[i], c] for every column c, where p
// is c's activation position (QuantWeights::activation_positions); out_perm has
// layout.activation_bytes floats, and the positions that are no column get unspecified
// values. The AVX-512 variants round each row's factor per block to int8
// (quant_avx512_axpy.h), as the matrix products round activations.
using QuantAxpyFn = void (*)(const QuantWeights& w, const std::uint32_t* rows, const float* coefs,
                             std::size_t count, float* out_perm);

namespace {  // Internal linkage: each ISA file gets its own copy (see matmul_avx2.cc).

// The sparse MLP reads scattered rows, which the hardware prefetchers do not predict;
// without this each row waits for memory.
inline void PrefetchRow(const QuantWeights& w, std::size_t row) {
  PrefetchBytes(w.row_codes(row), w.layout().row_bytes);
  PrefetchBytes(w.row_scales(row), w.layout().scale_stride * sizeof(std::uint16_t));
}

}  // namespace

// Per-thread scratch of the integer AXPY (quant_avx512_axpy.h), grown as needed. It lives
// in a file compiled without ISA flags: the AVX-512 files use no standard containers.
struct AxpyBuffers {
  std::int8_t* factors;  // factor_bytes
  float* block_scale;    // blocks
  float* block_offset;   // blocks
  std::int32_t* acc;     // acc_values
};
AxpyBuffers ThreadAxpyBuffers(std::size_t factor_bytes, std::size_t blocks, std::size_t acc_values);

// The AXPY output transposes each 64-byte slot of the activation layout to 4 x 16 floats:
// byte k of 32-bit lane b goes to float 16 * k + b, so that the kernels extract byte k of
// all 16 lanes with a shift and a mask, and lane b keeps block b's scale.
inline std::size_t AxpyPosition(std::size_t activation_position) {
  const std::size_t in_slot = activation_position % 64;
  return activation_position - in_slot + (in_slot % 4) * 16 + in_slot / 4;
}

// Computes rows [first, first + count) of one matrix into y (the output of row `first`
// of token 0; token t's at y + t * w.rows()), for a kernel and activations in `context`.
using QuantRangeFn = void (*)(const void* context, const QuantWeights& w, std::size_t first,
                              std::size_t count, float* y);
// Row ranges of up to kMaxShared matrices, numbered one after the other, are split over
// ThreadPool::Default() (or run on the caller where the call is small); y[i] is matrix i's
// output [n, w[i]->rows()].
inline constexpr std::size_t kMaxShared = 4;
void SplitQuantRows(QuantRangeFn fn, const void* context, const QuantWeights* const* w,
                    float* const* y, std::size_t count);

// The fp32-activation kernels (MatMulQuantF32): y[t * ldy + i] = row first + i of W dotted
// with token t, for i < count and t < n. Token t's activations are x_perm + t *
// layout.activation_bytes floats (64-byte aligned): the value of column c at
// AxpyPosition(activation position of c), so that one 16-float vector holds byte k of the
// 16 block lanes of a slot; zero at every position that is no column (padding codes and
// absent blocks then add nothing).
using QuantF32RowsFn = void (*)(const QuantWeights& w, const float* x_perm, std::size_t n,
                                std::size_t first, std::size_t count, float* y, std::size_t ldy);
void MatMulQuantF32Scalar(const QuantWeights&, const float*, std::size_t, std::size_t, std::size_t,
                          float*, std::size_t);
void MatMulQuantF32Avx2(const QuantWeights&, const float*, std::size_t, std::size_t, std::size_t,
                        float*, std::size_t);
void MatMulQuantF32Avx512(const QuantWeights&, const float*, std::size_t, std::size_t, std::size_t,
                          float*, std::size_t);

// The variants for an ISA (AVX-512 picks VNNI, and VNNI with VBMI, where the CPU has them).
QuantRowsFn QuantRowsFor(CpuIsa isa);
QuantAxpyFn QuantAxpyFor(CpuIsa isa);

void MatMulQuantScalar(const QuantWeights&, const PackedActivations&, const std::uint32_t*,
                       std::size_t, std::size_t, float*, std::size_t);
void MatMulQuantAvx2(const QuantWeights&, const PackedActivations&, const std::uint32_t*,
                     std::size_t, std::size_t, float*, std::size_t);
// AVX-512 with vpmaddubsw (F + BW), and with VNNI's vpdpbusd.
void MatMulQuantAvx512(const QuantWeights&, const PackedActivations&, const std::uint32_t*,
                       std::size_t, std::size_t, float*, std::size_t);
void MatMulQuantAvx512Vnni(const QuantWeights&, const PackedActivations&, const std::uint32_t*,
                           std::size_t, std::size_t, float*, std::size_t);
// VNNI with VBMI, whose byte permutes decode base-3 codes (the other formats as with VNNI).
void MatMulQuantAvx512Vbmi(const QuantWeights&, const PackedActivations&, const std::uint32_t*,
                           std::size_t, std::size_t, float*, std::size_t);

void QuantAxpyScalar(const QuantWeights&, const std::uint32_t*, const float*, std::size_t, float*);
void QuantAxpyAvx2(const QuantWeights&, const std::uint32_t*, const float*, std::size_t, float*);
void QuantAxpyAvx512(const QuantWeights&, const std::uint32_t*, const float*, std::size_t, float*);
void QuantAxpyAvx512Vnni(const QuantWeights&, const std::uint32_t*, const float*, std::size_t,
                         float*);

// AMX tile products (quant_matmul_amx.cc; call only where AmxEnabled()). A weight tile is
// 16 rows' codes of one block decoded to int8 (the ternary value, or the codebook step) in a
// small scratch, the activation tile 16 tokens of that block in AMX's 4-byte interleave,
// and tdpbssd takes the same integer dot products per block as the other variants; the
// per-block scales (and a codebook's offset times the block sums) are applied in fp32 once
// per block and 16 x 16 (row, token) tile.
// QuantAmxHandles: the formats and layouts these kernels decode (ternary 2-bit and codebook
// 2-bit; every block size: whole 4-byte words per block).
bool QuantAmxHandles(const QuantWeights& w);
// The activations in tile order: for token tile u (tokens 16u..16u+15) and block k of a row
// padded to whole groups, block_words = layout.full_words * layout.digits rows of 64 bytes,
// row j holding dword j of the block's activations for each of the 16 tokens; and the block
// sums as [u][k][16 tokens] floats. Tokens past n read as zeros.
struct AmxActivations {
  std::size_t n = 0;
  const std::int8_t* values = nullptr;
  const float* block_sums = nullptr;
  const float* scales = nullptr;  // Per token, as PackedActivations::scales.
};
// Bytes of PackActivationsAmx's output for n tokens.
std::size_t AmxActivationBytes(const QuantWeights& w, std::size_t n);
// Re-lays x (packed for w by PackActivations) into `out` (AmxActivationBytes, 64-byte
// aligned), which the result points into (and at x.scales).
AmxActivations PackActivationsAmx(const QuantWeights& w, const PackedActivations& x,
                                  std::int8_t* out);
// y[t * ldy + i] = row first + i of W dotted with token t, for i < count and t < x.n.
void MatMulQuantAmx(const QuantWeights& w, const AmxActivations& x, std::size_t first,
                    std::size_t count, float* y, std::size_t ldy);

// The stored digit (0..2 ternary, 0..3 codebook index) of code j of block b of a row.
int StoredCode(const QuantWeights& w, const std::uint8_t* row_codes, std::size_t block,
               std::size_t j);
// Where code j of block b sits in the activation layout of one token.
std::size_t ActivationPosition(const QuantLayout& layout, bool base3, std::size_t block,
                               std::size_t j);

}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_QUANT_INTERNAL_H_
