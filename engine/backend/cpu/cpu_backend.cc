#include "engine/backend/cpu/cpu_backend.h"

#include "engine/backend/cpu/cpu_activation.h"
#include "engine/backend/cpu/linear.h"
#include "kernels/cpu/elementwise.h"

namespace ghost {

std::unique_ptr<Activation> CpuBackend::NewActivation() {
  return std::make_unique<CpuActivation>();
}

absl::StatusOr<absl::Span<const float>> CpuBackend::HostRows(const Activation& a) {
  return absl::MakeConstSpan(Host(a).data(), a.rows() * a.cols());
}

void CpuBackend::Embed(const WeightMatrix& table, absl::Span<const std::int32_t> tokens,
                       Activation& out) {
  CpuActivation& rows = Host(out);
  rows.Resize(tokens.size(), table.cols);
  for (std::size_t t = 0; t < tokens.size(); ++t) cpu::CopyRow(table, tokens[t], rows.row(t));
}

void CpuBackend::RmsNorm(const Activation& x, const WeightVector& weight, float eps,
                         Activation& out) {
  Host(out).Resize(x.rows(), x.cols());
  kernels::RmsNorm(Host(x).data(), x.rows(), x.cols(), weight.data, eps, Host(out).data());
}

void CpuBackend::AddRmsNorm(Activation& x, const Activation& residual, const WeightVector& weight,
                            float eps, Activation& out) {
  Host(out).Resize(x.rows(), x.cols());
  kernels::AddRmsNorm(Host(x).data(), Host(residual).data(), x.rows(), x.cols(), weight.data, eps,
                      Host(out).data());
}

void CpuBackend::Linear(const Activation& x, const WeightMatrix& w, Activation& y) {
  Host(y).Resize(x.rows(), w.rows);
  cpu::MatMul(Host(x).data(), x.rows(), w, Host(y).data());
}

void CpuBackend::LinearShared(const Activation& x, absl::Span<const WeightMatrix* const> w,
                              absl::Span<Activation* const> y) {
  constexpr std::size_t kMaxShared = 4;
  float* outputs[kMaxShared];
  for (std::size_t i = 0; i < y.size(); ++i) {
    Host(*y[i]).Resize(x.rows(), w[i]->rows);
    outputs[i] = Host(*y[i]).data();
  }
  cpu::MatMulShared(Host(x).data(), x.rows(), w.data(), outputs, w.size());
}

void CpuBackend::AddBias(Activation& y, const WeightVector& bias) {
  CpuActivation& rows = Host(y);
  for (std::size_t t = 0; t < y.rows(); ++t) {
    float* row = rows.row(t);
    for (std::size_t c = 0; c < y.cols(); ++c) row[c] += bias.data[c];
  }
}

void CpuBackend::SiluMul(Activation& gate, const Activation& up) {
  kernels::SiluMul(Host(gate).data(), Host(up).data(), gate.rows() * gate.cols());
}

std::size_t CpuBackend::SiluGate(Activation& gate, float threshold) {
  return kernels::SiluGate(Host(gate).data(), gate.rows() * gate.cols(), threshold);
}

void CpuBackend::Multiply(Activation& a, const Activation& b) {
  float* out = Host(a).data();
  const float* factors = Host(b).data();
  for (std::size_t i = 0; i < a.rows() * a.cols(); ++i) out[i] *= factors[i];
}

void CpuBackend::SparseMlp(const Activation& x, const Activation& h, const WeightMatrix& up,
                           const WeightMatrix& down_t, Activation& out) {
  Host(out).Resize(x.rows(), x.cols());
  cpu::SparseMlp(Host(x).data(), Host(h).data(), x.rows(), x.cols(), h.cols(), up, down_t,
                 Host(out).data());
}

absl::Status CpuBackend::Logits(Activation& x, const Activation& residual,
                                absl::Span<const std::size_t> rows, const WeightVector& norm,
                                float eps, const WeightMatrix& lm_head, Activation& normed,
                                std::vector<float>& logits) {
  const std::size_t hidden = x.cols();
  CpuActivation& normed_rows = Host(normed);
  normed_rows.Resize(rows.size(), hidden);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    kernels::AddRmsNorm(Host(x).row(rows[i]), Host(residual).row(rows[i]), 1, hidden, norm.data,
                        eps, normed_rows.row(i));
  }
  logits.resize(rows.size() * lm_head.rows);
  if (!rows.empty()) cpu::MatMul(normed_rows.data(), rows.size(), lm_head, logits.data());
  return absl::OkStatus();
}

}  // namespace ghost
