// The CPU backend: activations, KV cache blocks and weights in host memory, every op on
// kernels/cpu (scalar, AVX2 or AVX-512, chosen once from CPUID), split over the process-wide
// thread pool. Ops run to completion before they return.
#ifndef GHOST_ENGINE_BACKEND_CPU_CPU_BACKEND_H_
#define GHOST_ENGINE_BACKEND_CPU_CPU_BACKEND_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "engine/backend/backend.h"

namespace ghost {

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::kCpu; }

  absl::StatusOr<std::unique_ptr<WeightUnit>> NewWeightUnit(
      std::vector<UnitTensorSource> tensors) override;
  std::size_t UnitBytes(absl::Span<const UnitTensorShape> tensors) const override;
  // A layer file (layer_file.h).
  absl::StatusOr<std::unique_ptr<LayerTransportBuilder>> NewLayerTransportBuilder(
      const LayerStreamPlan& plan) override;
  std::unique_ptr<Activation> NewActivation() override;
  absl::StatusOr<std::unique_ptr<KvStorage>> NewKvStorage(std::size_t bytes) override;
  absl::StatusOr<absl::Span<const float>> HostRows(const Activation& a) override;

  void Embed(const WeightMatrix& table, absl::Span<const std::int32_t> tokens,
             Activation& out) override;
  void RmsNorm(const Activation& x, const WeightVector& weight, float eps,
               Activation& out) override;
  void AddRmsNorm(Activation& x, const Activation& residual, const WeightVector& weight, float eps,
                  Activation& out) override;
  void Linear(const Activation& x, const WeightMatrix& w, Activation& y) override;
  void LinearShared(const Activation& x, absl::Span<const WeightMatrix* const> w,
                    absl::Span<Activation* const> y) override;
  void AddBias(Activation& y, const WeightVector& bias) override;
  void RopeTables(absl::Span<const double> inv_freq, absl::Span<const StepSequence> sequences,
                  Activation& cos, Activation& sin) override;
  void RopeAndStoreKv(int layer, const AttentionShape& shape, const Activation& cos,
                      const Activation& sin, absl::Span<const StepSequence> sequences,
                      Activation& q, Activation& k, const Activation& v,
                      PagedKvCache& cache) override;
  void Attention(int layer, const AttentionShape& shape, const Activation& q,
                 absl::Span<const StepSequence> sequences, const PagedKvCache& cache,
                 Activation& out) override;
  void SiluMul(Activation& gate, const Activation& up) override;
  std::size_t SiluGate(Activation& gate, float threshold) override;
  void Multiply(Activation& a, const Activation& b) override;
  void SparseMlp(const Activation& x, const Activation& h, const WeightMatrix& up,
                 const WeightMatrix& down_t, Activation& out) override;
  absl::Status Logits(Activation& x, const Activation& residual, absl::Span<const std::size_t> rows,
                      const WeightVector& norm, float eps, const WeightMatrix& lm_head,
                      Activation& normed, std::vector<float>& logits) override;
};

// `bytes` of host memory for a KV cache, reserved and not touched: pages are committed as blocks
// are first written, in transparent huge pages where the kernel allows: decode writes one row per
// layer per token, and faulting in a 4 KiB page every few tokens per layer cost ~300 us per token
// in a VM.
std::unique_ptr<KvStorage> NewHostKvStorage(std::size_t bytes);

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_CPU_CPU_BACKEND_H_
