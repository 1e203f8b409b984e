#include "engine/backend/quantized_store.h"

#include <deque>
#include <vector>

#include "engine/compress/fp16.h"
#include "kernels/cpu/quant_matmul.h"

namespace ghost {

struct QuantizedStore::Matrices {
  std::deque<kernels::QuantWeights> weights;
};

QuantizedStore::QuantizedStore() : matrices_(std::make_unique<Matrices>()) {}
QuantizedStore::~QuantizedStore() = default;

namespace {

kernels::QuantKind KindOf(compress::QuantFormat format) {
  switch (format) {
    case compress::QuantFormat::kTernary2Bit:
      return kernels::QuantKind::kTernary2Bit;
    case compress::QuantFormat::kTernaryBase3:
      return kernels::QuantKind::kTernaryBase3;
    case compress::QuantFormat::kCodebook2Bit:
      return kernels::QuantKind::kCodebook2Bit;
  }
  return kernels::QuantKind::kTernary2Bit;
}

}  // namespace

absl::StatusOr<WeightMatrix> QuantizedStore::Load(const TensorLookup& lookup,
                                                  const std::string& where,
                                                  const std::string& weight_name,
                                                  std::int64_t rows, std::int64_t cols,
                                                  const GhostQuantization& q) {
  absl::StatusOr<compress::QuantizedMatrix> m =
      ReadQuantizedMatrix(lookup, where, LinearBaseName(weight_name), rows, cols, q);
  if (!m.ok()) return m.status();
  std::vector<std::uint16_t> block_scales;
  const std::uint16_t* scales = m->scales.data();
  if (m->scale_scheme == compress::ScaleScheme::kTwoLevel) {
    const std::size_t blocks = m->blocks_per_row();
    block_scales.resize(m->rows * blocks);
    for (std::size_t r = 0; r < m->rows; ++r) {
      for (std::size_t b = 0; b < blocks; ++b) {
        block_scales[r * blocks + b] = compress::ScaleToF16(m->BlockScale(r, b));
      }
    }
    scales = block_scales.data();
  }
  kernels::QuantMatrixView view;
  view.kind = KindOf(m->format);
  view.rows = m->rows;
  view.cols = m->cols;
  view.block_size = m->block_size;
  view.codes = m->codes.data();
  view.scales = scales;
  view.codebook = m->codebook.empty() ? nullptr : m->codebook.data();
  view.codebook_group_rows = m->codebook_group_rows;
  std::deque<kernels::QuantWeights>& weights = matrices_->weights;
  weights.push_back(kernels::QuantWeights::Prepare(view));
  bytes_ += static_cast<std::int64_t>(weights.back().bytes());
  return WeightMatrix{WeightFormat::kQuant, &weights.back(), m->rows, m->cols};
}

}  // namespace ghost
