// The device seam: everything the forward pass needs from a device. A Backend owns the memory of
// a model on its device (weight units, activation buffers, the KV cache's storage) and runs the
// per-layer operations of a decoder on it. Model code (engine/model) talks only to this interface
// and never reads activation or weight memory itself; only the implementations (cpu/, and a CUDA
// one later) include kernels/.
//
// Execution model. Ops are issued in program order by one thread per runner. A device backend
// may run them asynchronously on a stream of that thread; the calls that hand host data back
// (HostRows, Logits, SiluGate's count) wait for what was issued before them, and HostRows and
// Logits report, as a Status, any device error that happened since the last such call. The CPU
// backend runs every op to completion.
//
// Sharing. One backend serves every runner of a model (and possibly several models): ops may run
// at once on several threads as long as each works on its own activations and KV cache.
// Weights are read-only during ops.
#ifndef GHOST_ENGINE_BACKEND_BACKEND_H_
#define GHOST_ENGINE_BACKEND_BACKEND_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/backend/device.h"
#include "engine/backend/kv_cache.h"
#include "engine/backend/layer_streamer.h"
#include "engine/backend/weight_matrix.h"
#include "engine/backend/weight_unit.h"

namespace ghost {

// An fp32 row-major matrix [rows, cols] in a backend's memory (host memory on the CPU, device
// memory on a GPU), made by Backend::NewActivation and usable only with that backend. Ops size
// their outputs (keeping the capacity, so a step allocates nothing once warm); its contents are
// the backend's to read, and HostRows gives the host a copy.
class Activation {
 public:
  virtual ~Activation() = default;
  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }

 protected:
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
};

struct AttentionShape {
  int num_heads = 0;
  int num_kv_heads = 0;  // divides num_heads (grouped-query attention)
  int head_dim = 0;
  // 0: every earlier position is visible. Else Mistral's sliding window, with the Hugging Face
  // convention (transformers masking_utils: kv_idx > q_idx - sliding_window): the query at
  // position p sees keys at positions p - window < s <= p, i.e. `window` positions counting
  // its own. The cache keeps every position; older ones are only masked.
  int sliding_window = 0;
};

// One sequence of a batched step, as host data: the step stacks every sequence's new tokens
// into the rows of its activations, in batch order.
struct StepSequence {
  std::size_t first_row = 0;  // its first row among the step's stacked tokens
  std::size_t num_tokens = 0;
  int start = 0;  // the position of its first new token; positions [0, start) are cached
  // Its block table (KvBlockTable::blocks), holding positions [0, start + num_tokens).
  absl::Span<const std::int32_t> blocks;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  // ---- Memory.

  // The tensors as one weight unit (weight_unit.h) in the backend's memory, their handles ready
  // for the ops below. RESOURCE_EXHAUSTED when the device cannot hold it.
  virtual absl::StatusOr<std::unique_ptr<WeightUnit>> NewWeightUnit(
      std::vector<UnitTensorSource> tensors) = 0;
  // The bytes (WeightUnit::bytes) a unit of tensors of these shapes takes, exactly: the
  // function NewWeightUnit lays units out with, so that a load plans its weight budget before
  // it packs anything.
  virtual std::size_t UnitBytes(absl::Span<const UnitTensorShape> tensors) const = 0;
  // A builder of the transport that streams `plan`'s layers through a LayerStreamer
  // (layer_streamer.h): on the CPU a layer file at plan.cache_path (cpu/layer_file.h), reused
  // when it matches or written as the layers come in; on CUDA pinned host memory.
  // INTERNAL naming the file when it cannot be written or read; INVALID_ARGUMENT when the plan
  // streams nothing; RESOURCE_EXHAUSTED when the host memory cannot be had.
  virtual absl::StatusOr<std::unique_ptr<LayerTransportBuilder>> NewLayerTransportBuilder(
      const LayerStreamPlan& plan) = 0;
  // The transport for layers already loaded (a benchmark that streams one loaded model at
  // several budgets): a builder given every unit of `source`. Errors as the builder's.
  absl::StatusOr<std::unique_ptr<LayerTransport>> NewLayerTransport(
      const LayerStreamSource& source);
  // An empty activation buffer.
  virtual std::unique_ptr<Activation> NewActivation() = 0;
  // `bytes` of KV cache storage (PagedKvCache::StorageBytes); RESOURCE_EXHAUSTED when the device
  // cannot hold them.
  virtual absl::StatusOr<std::unique_ptr<KvStorage>> NewKvStorage(std::size_t bytes) = 0;
  // The rows of `a` in host memory, [rows, cols]: `a` itself on the CPU, a copy on a GPU. Valid
  // until `a` is next written or read back. For observers (the compressor profiles
  // activations); the forward itself never needs it.
  virtual absl::StatusOr<absl::Span<const float>> HostRows(const Activation& a) = 0;

  // ---- Operations. Shapes must agree as stated; outputs are resized to the shape given.

  // out [tokens.size(), table.cols]: row t is row tokens[t] of `table` as fp32 (embedding
  // lookup). Every token < table.rows.
  virtual void Embed(const WeightMatrix& table, absl::Span<const std::int32_t> tokens,
                     Activation& out) = 0;

  // out = RmsNorm(x) * weight, row by row; out takes x's shape, weight.size == x.cols.
  virtual void RmsNorm(const Activation& x, const WeightVector& weight, float eps,
                       Activation& out) = 0;
  // x += residual, then out = RmsNorm(x) * weight: the residual add fused into the next norm.
  virtual void AddRmsNorm(Activation& x, const Activation& residual, const WeightVector& weight,
                          float eps, Activation& out) = 0;

  // y [x.rows, w.rows] = x w^T, x [n, w.cols], any weight format: one pass over the weights for
  // all n rows.
  virtual void Linear(const Activation& x, const WeightMatrix& w, Activation& y) = 0;
  // Linear(x, *w[i], *y[i]) for every i (w.size() == y.size() <= 4): matrices that read the same
  // input (a layer's q/k/v or gate/up). Low-bit matrices of one layout share one quantization
  // of x and one split over the cores, which matters at decode, where a call is microseconds.
  virtual void LinearShared(const Activation& x, absl::Span<const WeightMatrix* const> w,
                            absl::Span<Activation* const> y) = 0;
  // y[r, c] += bias[c] (Qwen2's q/k/v biases); bias.size == y.cols.
  virtual void AddBias(Activation& y, const WeightVector& bias) = 0;

  // The rotary embedding's cos and sin for every stacked token of the step, [n, inv_freq.size()]
  // each: angle = position * inv_freq[i] (RopeInverseFrequencies, engine/model/rope.h), in
  // double, once per step for every head and layer.
  virtual void RopeTables(absl::Span<const double> inv_freq,
                          absl::Span<const StepSequence> sequences, Activation& cos,
                          Activation& sin) = 0;
  // Rotates q [n, num_heads * head_dim] and k [n, num_kv_heads * head_dim] in place with the
  // tables of RopeTables (half-split pairs, as Hugging Face's rotate_half), then stores every
  // token's key and value (v as k) for `layer` in `cache` at the token's position.
  virtual void RopeAndStoreKv(int layer, const AttentionShape& shape, const Activation& cos,
                              const Activation& sin, absl::Span<const StepSequence> sequences,
                              Activation& q, Activation& k, const Activation& v,
                              PagedKvCache& cache) = 0;
  // Causal grouped-query attention of every sequence's new tokens over its cached positions
  // of `layer` (which hold every position up to its last new token): out takes q's shape.
  virtual void Attention(int layer, const AttentionShape& shape, const Activation& q,
                         absl::Span<const StepSequence> sequences, const PagedKvCache& cache,
                         Activation& out) = 0;

  // gate = SiLU(gate) * up, element-wise (the SwiGLU product).
  virtual void SiluMul(Activation& gate, const Activation& up) = 0;
  // gate = SiLU(gate), and GhostGate: values with |SiLU| <= threshold become 0 (threshold < 0
  // keeps them all). Returns how many values are non-zero.
  virtual std::size_t SiluGate(Activation& gate, float threshold) = 0;
  // a *= b, element-wise.
  virtual void Multiply(Activation& a, const Activation& b) = 0;
  // The row-packed sparse MLP (DESIGN.md): out [n, hidden] = sum over neurons j with
  // h[t, j] != 0 of h[t, j] * (up[j] . x[t]) * down_t[j], reading only the active rows of up and
  // down_t, both [inner, hidden]; x [n, hidden], h [n, inner] (SiluGate's output).
  virtual void SparseMlp(const Activation& x, const Activation& h, const WeightMatrix& up,
                         const WeightMatrix& down_t, Activation& out) = 0;

  // The last step of a forward, for the rows the sampler wants: for each i, x[rows[i]] +=
  // residual[rows[i]] and normed[i] = RmsNorm(x[rows[i]]) * norm, then logits [rows.size(),
  // lm_head.rows] = normed lm_head^T in host memory. Also reports a device error of the step.
  virtual absl::Status Logits(Activation& x, const Activation& residual,
                              absl::Span<const std::size_t> rows, const WeightVector& norm,
                              float eps, const WeightMatrix& lm_head, Activation& normed,
                              std::vector<float>& logits) = 0;
};

struct BackendOptions {
  Device device = Device::kCpu;
  int device_index = 0;  // which CUDA device
};

// The backend for `options.device`; UNIMPLEMENTED for a device this build has no backend for.
// CUDA: FAILED_PRECONDITION naming the cause when the build has no CUDA, the machine no usable
// device, or the device fails to initialise (cuda/cuda_backend.h).
absl::StatusOr<std::shared_ptr<Backend>> NewBackend(const BackendOptions& options);

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_BACKEND_H_
