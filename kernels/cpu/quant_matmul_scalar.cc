// The scalar reference of the low-bit kernels: one code at a time through the layout's
// address arithmetic, the same integer dot products per block as the SIMD variants.
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/quant_internal.h"

namespace ghost::kernels::internal {
namespace {

// The integer dot product of block `block` with a token's int8 activations; codebook
// indices become their 7-bit steps.
int BlockDot(const QuantWeights& w, const std::uint8_t* codes, const QuantCodebook* book,
             const std::int8_t* values, std::size_t block) {
  const std::size_t c0 = block * w.block_size();
  const std::size_t length = w.cols() - c0 < w.block_size() ? w.cols() - c0 : w.block_size();
  const std::uint32_t* positions = w.activation_positions();
  int dot = 0;
  for (std::size_t j = 0; j < length; ++j) {
    const int code = StoredCode(w, codes, block, j);
    dot += (book ? book->steps[code] : code) * values[positions[c0 + j]];
  }
  return dot;
}

}  // namespace

void MatMulQuantScalar(const QuantWeights& w, const PackedActivations& x, const std::uint32_t* rows,
                       std::size_t first, std::size_t count, float* y, std::size_t ldy) {
  const QuantLayout& l = w.layout();
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t row = rows ? rows[i] : first + i;
    const std::uint8_t* codes = w.row_codes(row);
    const std::uint16_t* scales = w.row_scales(row);
    const QuantCodebook* book = w.row_codebook(row);
    // Ternary codes are stored + 1: subtract the block sums once.
    const float alpha = book ? book->step : 1.0f;
    const float beta = book ? book->offset : -1.0f;
    for (std::size_t t = 0; t < x.n; ++t) {
      const std::int8_t* values = x.values + t * l.activation_bytes;
      const float* sums = x.block_sums + t * x.block_sums_stride;
      float dots = 0;
      float sum = 0;
      for (std::size_t block = 0; block < l.blocks_per_row; ++block) {
        const float scale = F16ToF32(scales[block]);
        dots += scale * static_cast<float>(BlockDot(w, codes, book, values, block));
        sum += scale * sums[block];
      }
      y[t * ldy + i] = x.scales[t] * (alpha * dots + beta * sum);
    }
  }
}

void QuantAxpyScalar(const QuantWeights& w, const std::uint32_t* rows, const float* coefs,
                     std::size_t count, float* out_perm) {
  const std::uint32_t* positions = w.activation_positions();
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint8_t* codes = w.row_codes(rows[i]);
    const std::uint16_t* scales = w.row_scales(rows[i]);
    const QuantCodebook* book = w.row_codebook(rows[i]);
    for (std::size_t c = 0; c < w.cols(); ++c) {
      const std::size_t block = c / w.block_size();
      const int code = StoredCode(w, codes, block, c % w.block_size());
      const float value = book ? book->entries[code] : static_cast<float>(code - 1);
      out_perm[AxpyPosition(positions[c])] += coefs[i] * F16ToF32(scales[block]) * value;
    }
  }
}

}  // namespace ghost::kernels::internal
