#include "engine/backend/cpu/linear.h"

#include <cstring>

#include "kernels/cpu/matmul.h"
#include "kernels/cpu/quant_matmul.h"
#include "kernels/cpu/sparse_mlp.h"

namespace ghost::cpu {
namespace {

// The sparse MLP kernel's view of a [inner, hidden] matrix.
kernels::MlpWeights AsMlpWeights(const WeightMatrix& w) {
  kernels::MlpWeights out;
  switch (w.format) {
    case WeightFormat::kF32:
      out.f32 = static_cast<const float*>(w.data);
      break;
    case WeightFormat::kBF16:
      out.bf16 = static_cast<const std::uint16_t*>(w.data);
      break;
    case WeightFormat::kF16:
      out.f16 = static_cast<const std::uint16_t*>(w.data);
      break;
    case WeightFormat::kTernary2Bit:
    case WeightFormat::kTernaryBase3:
    case WeightFormat::kCodebook2Bit:
      out.quant = static_cast<const kernels::QuantWeights*>(w.data);
      break;
  }
  return out;
}

}  // namespace

void MatMul(const float* x, std::size_t n, const WeightMatrix& w, float* y) {
  switch (w.format) {
    case WeightFormat::kF32:
      kernels::MatMulF32(x, n, static_cast<const float*>(w.data), w.rows, w.cols, y);
      return;
    case WeightFormat::kBF16:
      kernels::MatMulBf16(x, n, static_cast<const std::uint16_t*>(w.data), w.rows, w.cols, y);
      return;
    case WeightFormat::kF16:
      kernels::MatMulF16(x, n, static_cast<const std::uint16_t*>(w.data), w.rows, w.cols, y);
      return;
    case WeightFormat::kTernary2Bit:
    case WeightFormat::kTernaryBase3:
    case WeightFormat::kCodebook2Bit:
      kernels::MatMulQuant(x, n, *static_cast<const kernels::QuantWeights*>(w.data), y);
      return;
  }
}

void MatMulShared(const float* x, std::size_t n, const WeightMatrix* const* w, float* const* y,
                  std::size_t count) {
  constexpr std::size_t kMaxShared = 4;
  const kernels::QuantWeights* quant[kMaxShared];
  bool all_quant = count <= kMaxShared;
  for (std::size_t i = 0; all_quant && i < count; ++i) {
    all_quant = IsBlockQuantized(w[i]->format);
    quant[i] = static_cast<const kernels::QuantWeights*>(w[i]->data);
  }
  if (all_quant) {
    kernels::MatMulQuantShared(x, n, quant, y, count);
    return;
  }
  for (std::size_t i = 0; i < count; ++i) MatMul(x, n, *w[i], y[i]);
}

void CopyRow(const WeightMatrix& w, std::size_t row, float* out) {
  switch (w.format) {
    case WeightFormat::kF32:
      std::memcpy(out, static_cast<const float*>(w.data) + row * w.cols, w.cols * sizeof(float));
      return;
    case WeightFormat::kBF16: {
      const std::uint16_t* src = static_cast<const std::uint16_t*>(w.data) + row * w.cols;
      for (std::size_t c = 0; c < w.cols; ++c) out[c] = kernels::Bf16ToF32(src[c]);
      return;
    }
    case WeightFormat::kF16: {
      const std::uint16_t* src = static_cast<const std::uint16_t*>(w.data) + row * w.cols;
      for (std::size_t c = 0; c < w.cols; ++c) out[c] = kernels::F16ToF32(src[c]);
      return;
    }
    case WeightFormat::kTernary2Bit:
    case WeightFormat::kTernaryBase3:
    case WeightFormat::kCodebook2Bit:
      kernels::DequantizeQuantRow(*static_cast<const kernels::QuantWeights*>(w.data), row, out);
      return;
  }
}

void SparseMlp(const float* x, const float* h, std::size_t n, std::size_t hidden, std::size_t inner,
               const WeightMatrix& up, const WeightMatrix& down_t, float* out) {
  kernels::SparseMlp(x, h, n, hidden, inner, AsMlpWeights(up), AsMlpWeights(down_t), out);
}

}  // namespace ghost::cpu
