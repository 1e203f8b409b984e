// Random low-bit matrices for the kernel tests, packed by engine/formats (the owner of the
// storage format) and decoded by engine/compress, so that the kernels are checked against the
// format's own packer and reference decoder rather than against a second copy of the bit layout.
#ifndef GHOST_TESTS_KERNELS_RANDOM_QUANT_MATRIX_H_
#define GHOST_TESTS_KERNELS_RANDOM_QUANT_MATRIX_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "engine/compress/fp16.h"
#include "engine/compress/quantized_matrix.h"
#include "engine/formats/packing.h"
#include "engine/formats/weight_format.h"
#include "gtest/gtest.h"
#include "kernels/cpu/quant_matmul.h"

namespace ghost::kernels::testing {

// What the low-bit kernel tests run over: every format and every block size.
inline constexpr WeightFormat kLowBitFormats[] = {
    WeightFormat::kTernary2Bit, WeightFormat::kTernaryBase3, WeightFormat::kCodebook2Bit};
inline constexpr std::size_t kBlockSizes[] = {16, 32, 64, 128, 256};

// The parameter of the suites that run over every (format, block size) pair.
using FormatAndBlock = std::tuple<WeightFormat, std::size_t>;

// Every pair, for INSTANTIATE_TEST_SUITE_P.
inline auto AllFormatsAndBlocks() {
  return ::testing::Combine(::testing::ValuesIn(kLowBitFormats), ::testing::ValuesIn(kBlockSizes));
}

// The pair's part of the test name, e.g. "ternary_2bit_block64".
inline std::string FormatAndBlockName(const ::testing::TestParamInfo<FormatAndBlock>& info) {
  std::string name = WeightFormatName(std::get<0>(info.param));
  std::replace(name.begin(), name.end(), '-', '_');
  return name + "_block" + std::to_string(std::get<1>(info.param));
}

struct MatrixShape {
  std::size_t rows;
  std::size_t cols;
};

// Tokens per call: a decode step, a count under one tile, full tiles and a partial one after
// them (the AVX-512 tiles take 4 tokens), and a full 16-token tile.
inline constexpr std::size_t kTokenCounts[] = {1, 3, 6, 16};

// Standard normal activations.
inline std::vector<float> RandomActivations(std::size_t count, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(count);
  for (float& v : x) v = normal(rng);
  return x;
}

// Uniform random codes (padding codes past cols, as the format requires), scales in
// [0.005, 0.05] and, per group of 3 rows, 4 ascending codebook entries in [-2, 2].
inline compress::QuantizedMatrix RandomQuantMatrix(WeightFormat format, std::size_t rows,
                                                   std::size_t cols, std::size_t block_size,
                                                   std::mt19937& rng) {
  compress::QuantizedMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.format = format;
  m.block_size = block_size;
  const bool codebook = format == WeightFormat::kCodebook2Bit;
  m.codebook_group_rows = codebook ? 3 : 0;
  m.codes.assign(rows * m.code_bytes_per_row(), 0);
  m.scales.resize(rows * m.blocks_per_row());
  std::uniform_int_distribution<int> code(codebook ? 0 : -1, codebook ? 3 : 1);
  std::uniform_real_distribution<float> scale(0.005f, 0.05f);
  std::uniform_real_distribution<float> entry(-2.0f, 2.0f);
  std::vector<std::int8_t> block_codes(block_size);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t b = 0; b < m.blocks_per_row(); ++b) {
      for (std::size_t j = 0; j < block_size; ++j) {
        const bool padding = b * block_size + j >= cols;
        block_codes[j] = padding ? 0 : static_cast<std::int8_t>(code(rng));
      }
      PackCodes(m.format, block_codes,
                absl::MakeSpan(m.codes.data() + r * m.code_bytes_per_row() + b * m.block_bytes(),
                               m.block_bytes()));
      m.scales[r * m.blocks_per_row() + b] = compress::F32ToF16(scale(rng));
    }
  }
  if (codebook) {
    for (std::size_t g = 0; g < m.num_codebook_groups(); ++g) {
      float entries[4];
      for (float& e : entries) e = entry(rng);
      std::sort(entries, entries + 4);
      for (float e : entries) m.codebook.push_back(compress::F32ToF16(e));
    }
  }
  return m;
}

inline QuantMatrixView ViewOf(const compress::QuantizedMatrix& m) {
  QuantMatrixView view;
  view.format = m.format;
  view.rows = m.rows;
  view.cols = m.cols;
  view.block_size = m.block_size;
  view.codes = m.codes.data();
  view.scales = m.scales.data();
  view.codebook = m.codebook.empty() ? nullptr : m.codebook.data();
  view.codebook_group_rows = m.codebook_group_rows;
  return view;
}

// Upper bound of |MatMulQuant - exact| for the dot product of weight row r (w_row, its
// exact values) with x, apart from fp32 rounding: int8 activations are off by at most
// max|x| / 254 each, and codebook entries by at most half a 7-bit step, times the block
// scale. The 1.01 covers the product of the two errors.
inline double Int8DotErrorBound(const QuantWeights& w, std::size_t r, const float* w_row,
                                const float* x) {
  double max_x = 0;
  for (std::size_t c = 0; c < w.cols(); ++c) max_x = std::max<double>(max_x, std::fabs(x[c]));
  double sum_w = 0;
  double codebook_term = 0;
  const QuantCodebook* book = w.row_codebook(r);
  for (std::size_t c = 0; c < w.cols(); ++c) {
    sum_w += std::fabs(w_row[c]);
    if (book != nullptr) {
      const double scale = F16ToF32(w.row_scales(r)[c / w.block_size()]);
      codebook_term += std::fabs(x[c]) * scale * book->step / 2.0;
    }
  }
  return 1.01 * (max_x / 254.0 * sum_w + codebook_term) + 1e-6;
}

}  // namespace ghost::kernels::testing

#endif  // GHOST_TESTS_KERNELS_RANDOM_QUANT_MATRIX_H_
