#include "engine/compress/codebook.h"

#include <algorithm>
#include <cmath>

#include "engine/formats/weight_format.h"

namespace ghost::compress {
namespace {

// The scale search tries scale * (1 + k * kSearchStep) for k = -kSearchSteps..kSearchSteps.
constexpr int kSearchSteps = 6;
constexpr float kSearchStep = 0.12f;

template <bool kWeighted>
double EncodeImpl(absl::Span<const float> w, absl::Span<const float> importance,
                  const Codebook& codebook, float scale, absl::Span<std::int8_t> codes) {
  // Ascending entries: the nearest one is found by counting the midpoints below w.
  const float mid0 = 0.5f * scale * (codebook[0] + codebook[1]);
  const float mid1 = 0.5f * scale * (codebook[1] + codebook[2]);
  const float mid2 = 0.5f * scale * (codebook[2] + codebook[3]);
  double error = 0.0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const int code = (w[i] > mid0) + (w[i] > mid1) + (w[i] > mid2);
    codes[i] = static_cast<std::int8_t>(code);
    const float residual = w[i] - scale * codebook[code];
    error +=
        static_cast<double>(kWeighted ? importance[i] * residual * residual : residual * residual);
  }
  return error;
}

// One block of the rows being fitted.
struct Block {
  absl::Span<const float> w;
  absl::Span<const float> importance;
  float* scale;
};

// Replaces the block's scale by the best of its multiples on the search grid. The error as
// a function of the scale has a local minimum wherever codes change; the least-squares
// refit of the Lloyd rounds only reaches the nearest one.
void SearchScale(const Block& block, const Codebook& codebook, absl::Span<std::int8_t> codes) {
  const float start = *block.scale;
  double best = CodebookCodesForScale(block.w, block.importance, codebook, start, codes);
  for (int k = -kSearchSteps; k <= kSearchSteps; ++k) {
    const float candidate = start * (1.0f + static_cast<float>(k) * kSearchStep);
    if (k == 0 || candidate <= 0.0f) continue;
    const double error =
        CodebookCodesForScale(block.w, block.importance, codebook, candidate, codes);
    if (error < best) {
      best = error;
      *block.scale = candidate;
    }
  }
}

}  // namespace

double CodebookCodesForScale(absl::Span<const float> w, absl::Span<const float> importance,
                             const Codebook& codebook, float scale, absl::Span<std::int8_t> codes) {
  return importance.empty() ? EncodeImpl<false>(w, importance, codebook, scale, codes)
                            : EncodeImpl<true>(w, importance, codebook, scale, codes);
}

CodebookFit FitCodebook(const float* w, std::size_t rows, std::size_t cols, std::size_t block_size,
                        absl::Span<const float> column_importance, int iterations) {
  const std::size_t blocks_per_row = (cols + block_size - 1) / block_size;
  CodebookFit fit;
  fit.scales.assign(rows * blocks_per_row, 0.0f);
  fit.codebook = {0.0f, 0.0f, 0.0f, 0.0f};
  // All-zero blocks keep scale 0 and take no part in the fit.
  std::vector<Block> blocks;
  std::vector<float> normalised;
  normalised.reserve(rows * cols);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t b = 0; b < blocks_per_row; ++b) {
      const std::size_t first = b * block_size;
      const std::size_t length = std::min(block_size, cols - first);
      const absl::Span<const float> block_w(w + r * cols + first, length);
      float absmax = 0.0f;
      for (float value : block_w) absmax = std::max(absmax, std::fabs(value));
      if (absmax == 0.0f) continue;
      float* scale = &fit.scales[r * blocks_per_row + b];
      *scale = absmax;
      blocks.push_back(
          {block_w,
           column_importance.empty() ? column_importance : column_importance.subspan(first, length),
           scale});
      for (float value : block_w) normalised.push_back(value / absmax);
    }
  }
  if (blocks.empty()) return fit;
  for (int i = 0; i < kCodebookSize; ++i) {
    const auto rank = static_cast<std::size_t>((2 * i + 1) * (normalised.size() - 1) / 8);
    std::nth_element(normalised.begin(), normalised.begin() + rank, normalised.end());
    fit.codebook[i] = normalised[rank];
  }

  std::array<std::int8_t, kMaxBlockSize> codes;
  for (const Block& block : blocks) {
    SearchScale(block, fit.codebook, absl::MakeSpan(codes.data(), block.w.size()));
  }
  for (int iteration = 0; iteration < iterations; ++iteration) {
    // Cell statistics for the entry update: entry v_c minimises sum a (w - s v_c)^2 at
    // sum a s w / sum a s^2 over the weights coded c.
    std::array<double, kCodebookSize> numerator{};
    std::array<double, kCodebookSize> denominator{};
    for (const Block& block : blocks) {
      const absl::Span<std::int8_t> block_codes(codes.data(), block.w.size());
      CodebookCodesForScale(block.w, block.importance, fit.codebook, *block.scale, block_codes);
      // Per code c: sum a w and sum a over the block give both the scale refit and the
      // cell statistics.
      std::array<float, kCodebookSize> sum_aw{};
      std::array<float, kCodebookSize> sum_a{};
      for (std::size_t j = 0; j < block.w.size(); ++j) {
        const float a = block.importance.empty() ? 1.0f : block.importance[j];
        sum_aw[block_codes[j]] += a * block.w[j];
        sum_a[block_codes[j]] += a;
      }
      double aw_v = 0.0;
      double a_vv = 0.0;
      for (int c = 0; c < kCodebookSize; ++c) {
        aw_v += static_cast<double>(sum_aw[c]) * fit.codebook[c];
        a_vv += static_cast<double>(sum_a[c]) * fit.codebook[c] * fit.codebook[c];
      }
      // A least-squares scale that is not positive can only come from a degenerate
      // codebook; keeping the old scale never raises the error.
      if (a_vv > 0.0 && aw_v > 0.0) *block.scale = static_cast<float>(aw_v / a_vv);
      const double scale = *block.scale;
      for (int c = 0; c < kCodebookSize; ++c) {
        numerator[c] += scale * sum_aw[c];
        denominator[c] += scale * scale * sum_a[c];
      }
    }
    for (int c = 0; c < kCodebookSize; ++c) {
      if (denominator[c] > 0.0) fit.codebook[c] = static_cast<float>(numerator[c] / denominator[c]);
    }
    std::sort(fit.codebook.begin(), fit.codebook.end());
  }
  for (const Block& block : blocks) {
    SearchScale(block, fit.codebook, absl::MakeSpan(codes.data(), block.w.size()));
  }

  // Scale is shared between codebook and block scales; |entry| <= 1 keeps block scales
  // near the block's absmax, well inside fp16.
  const float largest = std::max(std::fabs(fit.codebook.front()), std::fabs(fit.codebook.back()));
  if (largest > 0.0f) {
    for (float& entry : fit.codebook) entry /= largest;
    for (float& scale : fit.scales) scale *= largest;
  }
  return fit;
}

}  // namespace ghost::compress
