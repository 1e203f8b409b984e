// A loaded language model: configuration, tokenizer, generation defaults and weights, plus the
// forward pass. Immutable after Load(); many sessions may run it concurrently.
#ifndef GHOST_ENGINE_MODEL_MODEL_H_
#define GHOST_ENGINE_MODEL_MODEL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/backend/backend.h"
#include "engine/backend/kv_cache.h"
#include "engine/model/config.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"

namespace ghost {

// Defaults from generation_config.json; unset fields fall back to the engine's.
struct GenerationDefaults {
  std::optional<float> temperature, top_p, min_p, repetition_penalty;
  std::optional<int> top_k, max_new_tokens;
  std::optional<bool> do_sample;  // false => greedy unless the request sets temperature
};

// Which logits a sequence of a batched step wants back.
enum class LogitRows { kNone, kLast, kAll };

// One sequence's share of a batched forward step: `tokens` run at positions
// [start, start + tokens.size()); positions [0, start) are already in the KV cache.
struct ForwardSequence {
  absl::Span<const std::int32_t> tokens;
  int start = 0;
  const KvBlockTable* blocks = nullptr;  // must hold start + tokens.size() positions
  LogitRows logits = LogitRows::kNone;
};

// Sees a forward step's activations layer by layer: the compressor profiles the MLP and the
// inputs of every linear layer with it. Called on the runner's thread; the pointers are valid
// only during the call. Rows are the step's stacked tokens.
class ActivationObserver {
 public:
  // The input every linear layer of a group reads.
  enum class LinearInput {
    kAttention,        // q, k, v: [n, hidden]
    kAttentionOutput,  // o: [n, heads * head_dim]
    kMlp,              // gate, up: [n, hidden]
    kMlpDown,          // down: [n, inner] (after the gate and SiLU-multiply)
  };
  virtual ~ActivationObserver() = default;
  virtual void OnLinearInput(int layer, LinearInput input, const float* x, std::size_t n,
                             std::size_t cols) = 0;
  // silu_gate = SiLU(gate_proj x) and up = up_proj x, [n, inner] each, before they multiply
  // (and before any gate threshold).
  virtual void OnMlp(int layer, const float* silu_gate, const float* up, std::size_t n,
                     std::size_t inner) = 0;
};

// Gated MLP activations seen by a runner: neuron-token pairs whose gate passed, of all gated
// pairs (zero for models without gates).
struct MlpActivity {
  std::int64_t active = 0;
  std::int64_t total = 0;
};

// Runs batched forward steps over a paged KV cache; owns scratch buffers reused across steps,
// so one runner serves one thread.
class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  // Not owned; nullptr (the default) observes nothing. Observing costs an extra pass over the
  // MLP activations.
  void set_observer(ActivationObserver* observer) { observer_ = observer; }
  const MlpActivity& mlp_activity() const { return mlp_activity_; }
  // Runs every sequence's new tokens in one pass (each weight matrix is read once per step),
  // writes their keys and values into `cache` through their block tables and fills `logits`
  // with [rows, vocab]: the rows each sequence asked for, in batch order. INVALID_ARGUMENT
  // (nothing computed) for an empty step, a token id out of range, a context overflow, a
  // block table too short, or a cache of another shape or in another device's memory; a
  // device error as the backend reports it (backend.h).
  [[nodiscard]] virtual absl::Status Forward(absl::Span<const ForwardSequence> batch,
                                             PagedKvCache& cache, std::vector<float>& logits) = 0;

 protected:
  ActivationObserver* observer_ = nullptr;
  MlpActivity mlp_activity_;
};

// One sequence with a private KV cache sized for the model's context, on top of a ModelRunner
// (for evaluation and tests; the executor batches through the runner directly).
class ModelSession {
 public:
  virtual ~ModelSession() = default;
  // Runs `tokens` at positions [num_tokens(), num_tokens() + tokens.size()) and appends them to
  // the cache. Writes logits for every input position into `logits` ([tokens.size(), vocab])
  // when all_logits is true, else only for the last one ([vocab]). INVALID_ARGUMENT when the
  // context would overflow or a token id is out of range.
  [[nodiscard]] virtual absl::Status Forward(absl::Span<const std::int32_t> tokens, bool all_logits,
                                             std::vector<float>& logits) = 0;
  virtual int num_tokens() const = 0;
  virtual MlpActivity mlp_activity() const = 0;
};

// The KV cache shape a model of `config` runs with.
inline KvCacheShape KvCacheShapeOf(const ModelConfig& config) {
  return KvCacheShape{config.num_hidden_layers, config.num_key_value_heads, config.head_dim};
}

// INVALID_ARGUMENT "sequence of N tokens exceeds the model's context of C tokens".
absl::Status ContextOverflowError(std::int64_t tokens, int context);

struct ModelSummary {
  std::string architecture;  // e.g. "LlamaForCausalLM"
  std::int64_t parameters = 0;
  std::string dtype;  // stored precision: "bf16", "f16", "f32"
  std::int64_t weight_bytes = 0;
  std::string tokenizer;                 // "byte-level", ...
  double removed_neuron_fraction = 0.0;  // MLP neurons the compressor removed
  int context_length = 0;
  int vocab_size = 0;
  // Layer streaming (ModelOptions::weight_budget_bytes): the budget (0: none, all resident),
  // the weight bytes kept resident (including the streaming slots) and those streamed.
  std::int64_t weight_budget_bytes = 0;
  std::int64_t resident_weight_bytes = 0;
  std::int64_t streamed_weight_bytes = 0;
  int streamed_layers = 0;
};

struct ModelOptions {
  Device device = Device::kCpu;  // where the weights live and the forward runs (backend.h)
  int device_index = 0;          // which CUDA device
  // The bytes of weights the model may keep in the device's memory; 0 keeps them all. Below
  // the model's size, the embedding, final norm, head and as many leading decoder layers as
  // fit stay resident and the other layers stream (engine/backend/layer_streamer.h) through
  // stream_slots slot buffers, which count against the budget.
  std::int64_t weight_budget_bytes = 0;
  int stream_slots = 2;
  // Where a streaming model keeps its transport's files (the CPU's layer file, written once
  // per model and reused while it matches); empty: <system temp dir>/ghost-layer-cache.
  std::string layer_cache_dir;

  // INVALID_ARGUMENT for a negative budget or fewer than 2 slots.
  absl::Status Validate() const;
};

class Model {
 public:
  // Loads an HF model directory, or a .gguf file (engine/checkpoint/gguf_import.h), onto
  // options.device. A directory holds config.json, model.safetensors, tokenizer.json and the
  // optional generation_config.json and tokenizer_config.json. Errors name the file and the
  // problem; UNIMPLEMENTED for a device this build has no backend for; FAILED_PRECONDITION for
  // CUDA without a usable device (backend.h); RESOURCE_EXHAUSTED (with the numbers) when
  // options.weight_budget_bytes cannot hold the resident weights plus the slots, or when memory
  // runs out while loading (the process keeps running).
  static absl::StatusOr<std::shared_ptr<const Model>> Load(const std::string& directory,
                                                           const ModelOptions& options = {});
  virtual ~Model() = default;

  virtual const ModelConfig& config() const = 0;
  virtual const Tokenizer& tokenizer() const = 0;
  // tokenizer_config.json's chat template (or the fallback; chat_template.h). One that failed to
  // load fails only chat requests.
  virtual const ChatTemplate& chat_template() const = 0;
  virtual const GenerationDefaults& generation_defaults() const = 0;
  virtual const ModelSummary& summary() const = 0;
  virtual std::unique_ptr<ModelRunner> NewRunner() const = 0;
  // The backend the model runs on; a KV cache for its runners keeps its blocks in storage from
  // it (PagedKvCache's host-memory constructor serves the CPU backend).
  virtual Backend& backend() const = 0;
  // The streamer of a model that streams layers (ModelOptions::weight_budget_bytes), else
  // nullptr: its counters feed the metrics, and the scheduler batches more when it is set.
  virtual const LayerStreamer* layer_streamer() const { return nullptr; }
  // The KV cache dtype this model runs with unless told otherwise: fp32 for fp32 weights
  // (whose logits match a float64 reference to 1e-4, which bf16 keys and values would not),
  // bf16 for everything else (bf16, f16 and compressed weights), whose own rounding is larger.
  KvDtype default_kv_dtype() const;
  // A session on a runner of this model (model_session.cc), its KV cache in `kv_dtype`
  // (default_kv_dtype() when not given), holding `max_tokens` positions (clamped to [1, the
  // model's context]; not given: the whole context). Callers that know their window pass it:
  // the cache is sized from it, not from a context length the model's files claim.
  std::unique_ptr<ModelSession> NewSession() const;
  std::unique_ptr<ModelSession> NewSession(KvDtype kv_dtype) const;
  std::unique_ptr<ModelSession> NewSession(KvDtype kv_dtype, int max_tokens) const;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_MODEL_MODEL_H_
