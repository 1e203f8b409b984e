// The 2-bit 4-level codebook: w ~ block_scale * codebook[code], code in 0..3, one codebook
// per group of rows. Two bits hold four values; ternary leaves the fourth unused, and a
// fitted codebook reaches cosine ~0.95 on Gaussian weights where ternary reaches ~0.91.
#ifndef GHOST_ENGINE_COMPRESS_CODEBOOK_H_
#define GHOST_ENGINE_COMPRESS_CODEBOOK_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace ghost::compress {

inline constexpr int kCodebookSize = 4;

// Entries in ascending order (nearest-entry search relies on it).
using Codebook = std::array<float, kCodebookSize>;

// Codes optimal for a fixed scale and codebook: each weight takes the entry whose
// scale * entry is nearest (the weighted error separates per weight). Returns the weighted
// squared error sum a_i (w_i - scale * codebook[c_i])^2; importance empty means a_i = 1.
double CodebookCodesForScale(absl::Span<const float> w, absl::Span<const float> importance,
                             const Codebook& codebook, float scale, absl::Span<std::int8_t> codes);

struct CodebookFit {
  Codebook codebook;          // ascending, max |entry| = 1 (unless all weights are 0)
  std::vector<float> scales;  // [rows, blocks_per_row], >= 0
};

// Fits one codebook and per-block scales to rows [rows, cols] (row-major) cut into blocks
// of block_size columns (the last one shorter when cols is not a multiple). Starting from
// absmax block scales and a codebook at the 1/8, 3/8, 5/8, 7/8 quantiles of the normalised
// weights, each of `iterations` rounds assigns nearest entries, refits each block scale by
// least squares and moves every entry to the weighted mean of its cell (Lloyd-Max).
// Before the first round and after the last, each block scale is also searched over
// 0.28x..1.72x of itself (steps of 0.12), which escapes the local minima the refit stops
// in. No step raises the weighted error. column_importance: empty or one value per column.
[[nodiscard]] CodebookFit FitCodebook(const float* w, std::size_t rows, std::size_t cols,
                                      std::size_t block_size,
                                      absl::Span<const float> column_importance, int iterations);

}  // namespace ghost::compress

#endif  // GHOST_ENGINE_COMPRESS_CODEBOOK_H_
