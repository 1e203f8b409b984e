// Internal to engine/backend/cuda: the CUDA backend's class, its activations and its per-thread
// lanes. See cuda_backend.h for the contract.
#ifndef GHOST_ENGINE_BACKEND_CUDA_CUDA_BACKEND_IMPL_H_
#define GHOST_ENGINE_BACKEND_CUDA_CUDA_BACKEND_IMPL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "engine/backend/backend.h"
#include "kernels/cuda/cuda_memory.h"
#include "kernels/cuda/device_weights.h"
#include "kernels/cuda/paged_kv.h"

namespace ghost::cuda_backend {

namespace kc = ::ghost::kernels::cuda;

// An fp32 [rows, cols] matrix in device memory; keeps its capacity across steps.
class CudaActivation final : public Activation {
 public:
  float* data() const { return buffer_.as<float>(); }
  float* row(std::size_t r) const { return data() + r * cols_; }
  // Makes it [rows, cols] (values unspecified); RESOURCE_EXHAUSTED when the device is full.
  absl::Status Resize(std::size_t rows, std::size_t cols) {
    if (absl::Status s = kc::Reserve(buffer_, rows * cols * sizeof(float)); !s.ok()) return s;
    rows_ = rows;
    cols_ = cols;
    return absl::OkStatus();
  }

 private:
  kc::DeviceBuffer buffer_;
};

inline CudaActivation& Dev(Activation& a) { return static_cast<CudaActivation&>(a); }
inline const CudaActivation& Dev(const Activation& a) {
  return static_cast<const CudaActivation&>(a);
}
// The kernels' view of a matrix this backend placed (WeightMatrix::data points at it).
inline const kc::DeviceWeights& Weights(const WeightMatrix& w) {
  return *static_cast<const kc::DeviceWeights*>(w.data);
}

// What one thread issues work with. Only that thread touches its lane.
struct Lane {
  kc::Stream stream;
  kc::BlasHandle blas;
  absl::Status error;  // the first error since the last HostRows / Logits
  kc::DeviceBuffer gemm_scratch, mlp_scratch, counter, tokens, rows, logits;
  kc::PinnedBuffer host_counter;
  std::vector<float> host_rows;
  // The step's tokens and block tables as last uploaded (RopeAndStoreKv and Attention of every
  // layer of a step share them).
  kc::DeviceBuffer step_tokens, step_blocks;
  std::vector<kc::StepToken> uploaded_tokens;
  std::vector<std::int32_t> uploaded_blocks;

  // Keeps the first error.
  void Record(const absl::Status& status) {
    if (error.ok() && !status.ok()) error = status;
  }
  kc::StreamHandle handle() const { return stream.handle(); }
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {}
  Device device() const override { return Device::kCuda; }
  int device_index() const { return device_; }

  absl::StatusOr<std::unique_ptr<WeightUnit>> NewWeightUnit(
      std::vector<UnitTensorSource> tensors) override;
  std::size_t UnitBytes(absl::Span<const UnitTensorShape> tensors) const override;
  // Pinned host memory -> device slots, an event per slot (cuda_layer_transport.cc).
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

  // The calling thread's lane with this backend's device current, or nullptr after an error
  // (recorded in the lane, reported by the next HostRows / Logits).
  Lane* Begin();
  // The calling thread's lane (created on first use).
  Lane& ThisLane();

 private:
  // y [n, w.rows] = x w^T on the lane's stream.
  absl::Status LinearRows(Lane& lane, const float* x, std::size_t n, const WeightMatrix& w,
                          float* y);
  // Uploads the step's tokens and block tables unless they are the ones on the device already.
  absl::Status UploadStep(Lane& lane, absl::Span<const StepSequence> sequences);
  // Takes (and clears) the lane's error after waiting for its stream.
  absl::Status Finish(Lane& lane);

  const int device_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::thread::id, std::unique_ptr<Lane>> lanes_ ABSL_GUARDED_BY(mu_);
};

// A unit of `tensors` laid out in host memory at `image` (UnitBytes of their shapes, aligned
// as kWeightUnitAlignment; a layer transport's pinned copy) and nowhere on the device: it
// holds handles only (data() nullptr) until Rebound to a device copy of the image.
// INVALID_ARGUMENT for tensors the units cannot hold.
absl::StatusOr<std::unique_ptr<WeightUnit>> NewHostImageUnit(
    const std::vector<UnitTensorSource>& tensors, std::byte* image);

// One layer's view of a cache in device memory.
kc::DeviceKvLayer KvLayerOf(const PagedKvCache& cache, int layer);

}  // namespace ghost::cuda_backend

#endif  // GHOST_ENGINE_BACKEND_CUDA_CUDA_BACKEND_IMPL_H_
