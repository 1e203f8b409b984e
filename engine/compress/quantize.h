// Quantizing a weight matrix: the entry point of engine/compress.
//
// Ternary formats fit every block on its own (ternary.h) and then store its scale;
// the codebook format fits one codebook per group of rows (codebook.h). In both cases the
// codes are re-solved for the scale as stored (fp16 or two-level, scales.h), so they are
// optimal for what a kernel will actually multiply by.
//
// With column_importance a_j (importance.h) every weight in column j counts a_j times in
// the error: sum_ij a_j (w_ij - q_ij)^2, the diagonal approximation of E||(W - Q) x||^2.
#ifndef GHOST_ENGINE_COMPRESS_QUANTIZE_H_
#define GHOST_ENGINE_COMPRESS_QUANTIZE_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/compress/quantized_matrix.h"
#include "engine/compress/scales.h"
#include "engine/formats/weight_format.h"

namespace ghost::compress {

enum class TernarySolver {
  kExact,      // least error per block, for any importances (ternary.h)
  kIterative,  // the threshold/scale coordinate descent of the literature, a baseline
};

const char* TernarySolverName(TernarySolver solver);  // "exact", "iterative"

struct QuantizeOptions {
  WeightFormat format = WeightFormat::kTernary2Bit;  // block-quantized
  // Weights per scale: 16, 32, 64, 128 or 256. cols need not be a multiple: the last
  // block of each row is short (see quantized_matrix.h).
  std::size_t block_size = 16;
  TernarySolver solver = TernarySolver::kExact;  // ternary formats only
  int iterative_rounds = 10;                     // kIterative: coordinate-descent rounds
  ScaleScheme scale_scheme = ScaleScheme::kF16PerBlock;
  int sub_scale_bits = 4;               // kTwoLevel: 4 or 6
  std::size_t codebook_group_rows = 1;  // codebook: consecutive rows sharing a codebook
  int lloyd_iterations = 10;            // codebook: fitting rounds
  // Empty, or one non-negative finite value per column. Not owned: it must outlive the
  // Quantize() call.
  absl::Span<const float> column_importance;
  // Spreads rows (codebook: row groups) over the process-wide worker threads; false runs on
  // the caller alone. The result is the same either way.
  bool parallel = false;

  // The options alone; Quantize() also checks them against the matrix. INVALID_ARGUMENT
  // for out-of-range values, UNIMPLEMENTED for combinations that do not exist.
  [[nodiscard]] absl::Status Validate() const;
};

// w: row-major [rows, cols], finite, |w| <= 65504 (stored scales are fp16). Errors:
// Validate()'s, and INVALID_ARGUMENT naming the first bad weight, an empty shape or an
// importance span that does not fit.
[[nodiscard]] absl::StatusOr<QuantizedMatrix> Quantize(const float* w, std::size_t rows,
                                                       std::size_t cols,
                                                       const QuantizeOptions& options);

}  // namespace ghost::compress

#endif  // GHOST_ENGINE_COMPRESS_QUANTIZE_H_
