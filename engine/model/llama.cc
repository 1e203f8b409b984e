#include "engine/model/llama.h"

#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/model/rope.h"
#include "engine/model/weight_budget.h"

namespace ghost {
namespace {

// The batched forward over the model's backend: activation buffers sized for the largest step
// seen, reused across steps.
class LlamaRunner final : public ModelRunner {
 public:
  explicit LlamaRunner(std::shared_ptr<const LlamaModel> model)
      : model_(std::move(model)),
        backend_(model_->backend()),
        config_(model_->config()),
        attention_shape_{config_.num_attention_heads, config_.num_key_value_heads, config_.head_dim,
                         config_.sliding_window} {
    for (std::unique_ptr<Activation>* a :
         {&x_, &normed_, &q_, &k_, &v_, &attn_, &proj_, &gate_, &up_, &rope_cos_, &rope_sin_}) {
      *a = backend_.NewActivation();
    }
  }

  absl::Status Forward(absl::Span<const ForwardSequence> batch, PagedKvCache& cache,
                       std::vector<float>& logits) override;

 private:
  absl::Status Validate(absl::Span<const ForwardSequence> batch, const PagedKvCache& cache) const;
  absl::Status RunLayer(const LlamaLayerWeights& layer, int layer_index, PagedKvCache& cache);
  // The MLP of the step's stacked tokens from normed_ into proj_: all neurons, or (gated)
  // only those whose gate passes.
  absl::Status DenseMlp(const LlamaLayerWeights& layer, int layer_index);
  void GatedMlp(const LlamaLayerWeights& layer);
  // Shows the observer, if any, the host rows of `x`.
  absl::Status Observe(int layer, ActivationObserver::LinearInput input, const Activation& x);

  std::shared_ptr<const LlamaModel> model_;
  Backend& backend_;
  const ModelConfig& config_;
  const AttentionShape attention_shape_;
  // Activations of the step's stacked tokens, [n, width] each. Past the first layer the
  // residual stream is x_ + proj_: each residual add is fused into the norm that follows it.
  std::unique_ptr<Activation> x_, normed_, q_, k_, v_, attn_, proj_, gate_, up_;
  // The rotary cos and sin of each stacked token's position, [n, head_dim / 2] each.
  std::unique_ptr<Activation> rope_cos_, rope_sin_;
  std::vector<std::int32_t> tokens_;     // the step's stacked tokens
  std::vector<StepSequence> sequences_;  // where each sequence's tokens are
  std::vector<std::size_t> logit_rows_;  // rows whose logits were asked for
};

absl::Status LlamaRunner::Validate(absl::Span<const ForwardSequence> batch,
                                   const PagedKvCache& cache) const {
  if (batch.empty()) return absl::InvalidArgumentError("a forward step needs a sequence");
  if (!(cache.shape() == KvCacheShapeOf(config_))) {
    return absl::InvalidArgumentError("the KV cache was made for a model of another shape");
  }
  if (cache.device() != backend_.device()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the KV cache is in ", DeviceName(cache.device()),
                     " memory but the model runs on ", DeviceName(backend_.device())));
  }
  for (const ForwardSequence& sequence : batch) {
    if (sequence.tokens.empty()) {
      return absl::InvalidArgumentError("Forward needs at least one token");
    }
    const std::int64_t end =
        std::int64_t{sequence.start} + static_cast<std::int64_t>(sequence.tokens.size());
    if (sequence.start < 0 || end > config_.max_position_embeddings) {
      return ContextOverflowError(end, config_.max_position_embeddings);
    }
    if (sequence.blocks == nullptr || !sequence.blocks->IsFrom(cache) ||
        sequence.blocks->capacity() < end) {
      return absl::InvalidArgumentError(
          absl::StrCat("the sequence's block table does not hold its ", end, " positions"));
    }
    for (std::int32_t token : sequence.tokens) {
      if (token < 0 || token >= config_.vocab_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("token id ", token, " out of range [0, ", config_.vocab_size, ")"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status LlamaRunner::Observe(int layer, ActivationObserver::LinearInput input,
                                  const Activation& x) {
  if (observer_ == nullptr) return absl::OkStatus();
  absl::StatusOr<absl::Span<const float>> rows = backend_.HostRows(x);
  if (!rows.ok()) return rows.status();
  observer_->OnLinearInput(layer, input, rows->data(), x.rows(), x.cols());
  return absl::OkStatus();
}

absl::Status LlamaRunner::RunLayer(const LlamaLayerWeights& layer, int layer_index,
                                   PagedKvCache& cache) {
  using LinearInput = ActivationObserver::LinearInput;
  const auto eps = static_cast<float>(config_.rms_norm_eps);
  // Every matrix product runs once over all stacked tokens of the step.
  if (layer_index == 0) {
    backend_.RmsNorm(*x_, *layer.input_norm, eps, *normed_);
  } else {
    backend_.AddRmsNorm(*x_, *proj_, *layer.input_norm, eps, *normed_);
  }
  if (absl::Status s = Observe(layer_index, LinearInput::kAttention, *normed_); !s.ok()) return s;
  {
    const WeightMatrix* const w[] = {layer.q, layer.k, layer.v};
    Activation* const y[] = {q_.get(), k_.get(), v_.get()};
    backend_.LinearShared(*normed_, w, y);
  }
  if (layer.q_bias != nullptr) {
    backend_.AddBias(*q_, *layer.q_bias);
    backend_.AddBias(*k_, *layer.k_bias);
    backend_.AddBias(*v_, *layer.v_bias);
  }
  backend_.RopeAndStoreKv(layer_index, attention_shape_, *rope_cos_, *rope_sin_, sequences_, *q_,
                          *k_, *v_, cache);
  backend_.Attention(layer_index, attention_shape_, *q_, sequences_, cache, *attn_);
  if (absl::Status s = Observe(layer_index, LinearInput::kAttentionOutput, *attn_); !s.ok()) {
    return s;
  }
  backend_.Linear(*attn_, *layer.o, *proj_);
  if (layer.o_bias != nullptr) backend_.AddBias(*proj_, *layer.o_bias);
  backend_.AddRmsNorm(*x_, *proj_, *layer.post_attention_norm, eps, *normed_);
  if (absl::Status s = Observe(layer_index, LinearInput::kMlp, *normed_); !s.ok()) return s;
  if (layer.gated) {
    GatedMlp(layer);
    return absl::OkStatus();
  }
  return DenseMlp(layer, layer_index);
}

absl::Status LlamaRunner::DenseMlp(const LlamaLayerWeights& layer, int layer_index) {
  {
    const WeightMatrix* const w[] = {layer.gate, layer.up};
    Activation* const y[] = {gate_.get(), up_.get()};
    backend_.LinearShared(*normed_, w, y);
  }
  if (observer_ != nullptr) {
    // The observed path keeps SiLU(gate) apart from its product with up.
    backend_.SiluGate(*gate_, /*threshold=*/-1.0f);
    absl::StatusOr<absl::Span<const float>> silu_gate = backend_.HostRows(*gate_);
    if (!silu_gate.ok()) return silu_gate.status();
    absl::StatusOr<absl::Span<const float>> up = backend_.HostRows(*up_);
    if (!up.ok()) return up.status();
    observer_->OnMlp(layer_index, silu_gate->data(), up->data(), gate_->rows(), gate_->cols());
    backend_.Multiply(*gate_, *up_);
  } else {
    backend_.SiluMul(*gate_, *up_);
  }
  if (absl::Status s = Observe(layer_index, ActivationObserver::LinearInput::kMlpDown, *gate_);
      !s.ok()) {
    return s;
  }
  backend_.Linear(*gate_, *layer.down, *proj_);
  return absl::OkStatus();
}

void LlamaRunner::GatedMlp(const LlamaLayerWeights& layer) {
  backend_.Linear(*normed_, *layer.gate, *gate_);
  // GhostGate: SiLU(g) * (|SiLU(g)| > t); the sparse MLP then skips the zeroed neurons.
  mlp_activity_.active +=
      static_cast<std::int64_t>(backend_.SiluGate(*gate_, layer.gate_threshold));
  mlp_activity_.total += static_cast<std::int64_t>(gate_->rows() * gate_->cols());
  backend_.SparseMlp(*normed_, *gate_, *layer.up, *layer.down, *proj_);
}

absl::Status LlamaRunner::Forward(absl::Span<const ForwardSequence> batch, PagedKvCache& cache,
                                  std::vector<float>& logits) {
  if (absl::Status s = Validate(batch, cache); !s.ok()) return s;
  const LlamaWeights& weights = model_->weights();
  std::size_t n = 0;
  tokens_.clear();
  sequences_.clear();
  logit_rows_.clear();
  for (const ForwardSequence& sequence : batch) {
    const std::size_t size = sequence.tokens.size();
    sequences_.push_back({n, size, sequence.start, sequence.blocks->blocks()});
    tokens_.insert(tokens_.end(), sequence.tokens.begin(), sequence.tokens.end());
    if (sequence.logits == LogitRows::kAll) {
      for (std::size_t t = 0; t < size; ++t) logit_rows_.push_back(n + t);
    } else if (sequence.logits == LogitRows::kLast) {
      logit_rows_.push_back(n + size - 1);
    }
    n += size;
  }
  backend_.Embed(*weights.embed_tokens, tokens_, *x_);
  backend_.RopeTables(model_->rope_inv_freq(), sequences_, *rope_cos_, *rope_sin_);
  LayerStreamer* const streamer = model_->streamer();
  const auto first_streamed = static_cast<int>(model_->first_streamed_layer());
  // A streamed layer is rebound to its slot for the step: one streamed forward at a time.
  std::optional<absl::MutexLock> step_lock;
  if (streamer != nullptr) step_lock.emplace(&model_->step_mutex());
  for (int l = 0; l < config_.num_hidden_layers; ++l) {
    const bool streamed = streamer != nullptr && l >= first_streamed;
    absl::Status s;
    if (streamed) s = streamer->Acquire(static_cast<std::size_t>(l - first_streamed));
    if (s.ok()) s = RunLayer(weights.layers[l], l, cache);
    if (streamed) streamer->Release(static_cast<std::size_t>(l - first_streamed));
    if (!s.ok()) {
      if (streamer != nullptr) streamer->FinishStep();
      return s;
    }
  }
  // Only the rows whose logits are wanted get the last layer's residual add, the final norm
  // and the lm_head.
  return backend_.Logits(*x_, *proj_, logit_rows_, *weights.final_norm,
                         static_cast<float>(config_.rms_norm_eps), *weights.lm_head, *normed_,
                         logits);
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Model>> LlamaModel::Create(
    ModelConfig config, std::unique_ptr<Tokenizer> tokenizer, ChatTemplate chat_template,
    GenerationDefaults defaults, std::unique_ptr<SafetensorsCheckpoint> checkpoint,
    std::shared_ptr<Backend> backend, const ModelOptions& options, const std::string& directory) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  // Plan the budget from the checkpoint before packing anything, so that streamed layers can
  // go to their transport one at a time: a model larger than the memory it may use loads.
  absl::StatusOr<LlamaUnitBytes> unit_bytes = PlanLlamaUnits(config, *checkpoint, *backend);
  if (!unit_bytes.ok()) return unit_bytes.status();
  absl::StatusOr<WeightPlan> plan =
      PlanWeights(unit_bytes->resident, unit_bytes->layers, options.weight_budget_bytes,
                  options.stream_slots, kLayerSlotAlignment);
  if (!plan.ok()) return plan.status();
  std::unique_ptr<LayerTransportBuilder> builder;
  if (plan->resident_layers < unit_bytes->layers.size()) {
    LayerStreamPlan stream_plan;
    stream_plan.layer_bytes = unit_bytes->layers;
    stream_plan.first_streamed = plan->resident_layers;
    stream_plan.cache_path = LayerCachePath(options, directory);
    stream_plan.source_identity = SourceIdentity(directory);
    absl::StatusOr<std::unique_ptr<LayerTransportBuilder>> made =
        backend->NewLayerTransportBuilder(stream_plan);
    if (!made.ok()) return made.status();
    builder = *std::move(made);
  }
  absl::StatusOr<LlamaWeights> weights =
      LoadLlamaWeights(config, *checkpoint, *backend, builder.get(), plan->resident_layers);
  if (!weights.ok()) return weights.status();
  checkpoint.reset();  // the units hold copies: unmap the files before the slots are allocated
  // Private constructor: make_shared cannot reach it.
  std::shared_ptr<LlamaModel> model(new LlamaModel());
  model->backend_ = std::move(backend);
  model->weights_ = *std::move(weights);
  model->rope_inv_freq_ =
      RopeInverseFrequencies(config.head_dim, config.rope_theta, config.rope_scaling);
  model->first_streamed_layer_ = plan->resident_layers;
  if (builder != nullptr) {
    absl::StatusOr<std::unique_ptr<LayerStreamer>> streamer =
        StartStreaming(model->weights_, plan->resident_layers, *builder, options.stream_slots);
    if (!streamer.ok()) return streamer.status();
    model->streamer_ = *std::move(streamer);
  }
  ModelSummary& summary = model->summary_;
  summary.weight_budget_bytes = options.weight_budget_bytes;
  summary.resident_weight_bytes = static_cast<std::int64_t>(
      plan->resident_bytes +
      (model->streamer_ != nullptr ? model->streamer_->slot_bytes_total() : 0));
  summary.streamed_weight_bytes = static_cast<std::int64_t>(plan->streamed_bytes);
  summary.streamed_layers = static_cast<int>(model->weights_.layers.size() - plan->resident_layers);
  summary.architecture = config.architecture;
  summary.parameters = model->weights_.parameters;
  summary.dtype = model->weights_.dominant_dtype;
  summary.weight_bytes = model->weights_.weight_bytes;
  summary.tokenizer = tokenizer->type_name();
  std::size_t kept = 0;
  for (const LlamaLayerWeights& layer : model->weights_.layers) kept += layer.inner;
  const double neurons = static_cast<double>(config.intermediate_size) * config.num_hidden_layers;
  summary.removed_neuron_fraction = neurons == 0 ? 0.0 : 1.0 - static_cast<double>(kept) / neurons;
  summary.context_length = config.max_position_embeddings;
  summary.vocab_size = config.vocab_size;
  model->config_ = std::move(config);
  model->tokenizer_ = std::move(tokenizer);
  model->chat_template_ = std::move(chat_template);
  model->defaults_ = std::move(defaults);
  return std::shared_ptr<const Model>(std::move(model));
}

std::unique_ptr<ModelRunner> LlamaModel::NewRunner() const {
  return std::make_unique<LlamaRunner>(shared_from_this());
}

}  // namespace ghost
