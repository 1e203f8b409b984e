// The CUDA backend's products: Linear (small batches through the kernels' matvec for every
// format, larger dense ones through cuBLAS), the sparse MLP and the logits pass.
#include <algorithm>

#include "engine/backend/cuda/cuda_backend_impl.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/matvec.h"
#include "kernels/cuda/sparse_mlp.h"

namespace ghost::cuda_backend {

absl::Status CudaBackend::LinearRows(Lane& lane, const float* x, std::size_t n,
                                     const WeightMatrix& w, float* y) {
  const kc::DeviceWeights& weights = Weights(w);
  if (n > kc::kMaxMatvecBatch && !IsBlockQuantized(w.format)) {
    return kc::DenseGemm(x, n, weights, y, lane.blas, lane.gemm_scratch, lane.handle());
  }
  // Low-bit weights (and small batches of any) in groups of up to kMaxMatvecBatch tokens.
  for (std::size_t t0 = 0; t0 < n; t0 += kc::kMaxMatvecBatch) {
    const std::size_t tokens = std::min(kc::kMaxMatvecBatch, n - t0);
    if (absl::Status s =
            kc::Matvec(x + t0 * w.cols, tokens, weights, y + t0 * w.rows, lane.handle());
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

void CudaBackend::Linear(const Activation& x, const WeightMatrix& w, Activation& y) {
  Lane* lane = Begin();
  if (lane == nullptr) return;
  lane->Record(Dev(y).Resize(x.rows(), w.rows));
  if (!lane->error.ok()) return;
  lane->Record(LinearRows(*lane, Dev(x).data(), x.rows(), w, Dev(y).data()));
}

void CudaBackend::LinearShared(const Activation& x, absl::Span<const WeightMatrix* const> w,
                               absl::Span<Activation* const> y) {
  for (std::size_t i = 0; i < w.size(); ++i) Linear(x, *w[i], *y[i]);
}

void CudaBackend::SparseMlp(const Activation& x, const Activation& h, const WeightMatrix& up,
                            const WeightMatrix& down_t, Activation& out) {
  Lane* lane = Begin();
  if (lane == nullptr) return;
  lane->Record(Dev(out).Resize(x.rows(), x.cols()));
  if (!lane->error.ok()) return;
  lane->Record(kc::SparseMlp(Dev(x).data(), Dev(h).data(), x.rows(), x.cols(), h.cols(),
                             Weights(up), Weights(down_t), Dev(out).data(), lane->mlp_scratch,
                             lane->handle()));
}

absl::Status CudaBackend::Logits(Activation& x, const Activation& residual,
                                 absl::Span<const std::size_t> rows, const WeightVector& norm,
                                 float eps, const WeightMatrix& lm_head, Activation& normed,
                                 std::vector<float>& logits) {
  Lane& lane = ThisLane();
  logits.resize(rows.size() * lm_head.rows);
  if (Lane* ready = Begin(); ready != nullptr && !rows.empty()) {
    std::vector<std::int32_t> indices(rows.begin(), rows.end());
    lane.Record(Dev(normed).Resize(rows.size(), x.cols()));
    lane.Record(kc::Reserve(lane.rows, indices.size() * sizeof(std::int32_t)));
    lane.Record(kc::Reserve(lane.logits, logits.size() * sizeof(float)));
    if (lane.error.ok()) {
      lane.Record(kc::CopyToDevice(lane.rows.data(), indices.data(),
                                   indices.size() * sizeof(std::int32_t), lane.handle()));
      lane.Record(kc::AddRmsNorm(Dev(x).data(), Dev(residual).data(), lane.rows.as<std::int32_t>(),
                                 rows.size(), x.cols(), norm.data, eps, Dev(normed).data(),
                                 lane.handle()));
      if (lane.error.ok()) {
        lane.Record(
            LinearRows(lane, Dev(normed).data(), rows.size(), lm_head, lane.logits.as<float>()));
      }
      lane.Record(kc::CopyToHost(logits.data(), lane.logits.data(), logits.size() * sizeof(float),
                                 lane.handle()));
    }
  }
  return Finish(lane);
}

}  // namespace ghost::cuda_backend
