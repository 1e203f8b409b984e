#include "engine/model/llama.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/backend/llama_ops.h"
#include "engine/model/rope.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/sparse_mlp.h"
#include "kernels/cpu/thread_pool.h"

namespace ghost {
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

// The batched forward: scratch buffers sized for the largest step seen, reused across steps.
class LlamaRunner final : public ModelRunner {
 public:
  explicit LlamaRunner(std::shared_ptr<const LlamaModel> model)
      : model_(std::move(model)),
        config_(model_->config()),
        kv_dim_(static_cast<std::size_t>(config_.num_key_value_heads) * config_.head_dim),
        q_dim_(static_cast<std::size_t>(config_.num_attention_heads) * config_.head_dim) {}

  absl::Status Forward(absl::Span<const ForwardSequence> batch, PagedKvCache& cache,
                       std::vector<float>& logits) override;

 private:
  absl::Status Validate(absl::Span<const ForwardSequence> batch, const PagedKvCache& cache) const;
  void RunLayer(const LlamaLayerWeights& layer, int layer_index,
                absl::Span<const ForwardSequence> batch, PagedKvCache& cache, std::size_t n);
  // Ropes the sequences' new queries and keys, stores keys and values in their blocks and
  // attends each sequence over its own cached positions.
  void Attend(int layer_index, absl::Span<const ForwardSequence> batch, PagedKvCache& cache);
  // The MLP of the step's n stacked tokens from normed_ into proj_: all neurons, or (gated)
  // only those whose gate passes.
  void DenseMlp(const LlamaLayerWeights& layer, int layer_index, std::size_t n);
  void GatedMlp(const LlamaLayerWeights& layer, std::size_t n);
  void Observe(int layer, ActivationObserver::LinearInput input, const float* x, std::size_t n,
               std::size_t cols) {
    if (observer_ != nullptr) observer_->OnLinearInput(layer, input, x, n, cols);
  }

  std::shared_ptr<const LlamaModel> model_;
  const ModelConfig& config_;
  const std::size_t kv_dim_;
  const std::size_t q_dim_;
  // Activations of the step's stacked tokens, [n, width] each. Past the first layer the
  // residual stream is x_ + proj_: each residual add is fused into the norm that follows it.
  std::vector<float> x_, normed_, q_, k_, v_, attn_, proj_, gate_, up_;
  // The rotary cos and sin of each stacked token's position, [n, head_dim / 2] each.
  std::vector<float> rope_cos_, rope_sin_;
  std::vector<std::size_t> logit_rows_;  // rows of x_ whose logits were asked for
  // One per sequence of the step, so that sequences attend in parallel.
  struct SequenceScratch {
    std::size_t first_row = 0;  // the sequence's first row among the stacked tokens
    std::vector<const void*> key_blocks, value_blocks;
  };
  std::vector<SequenceScratch> sequence_scratch_;
};

absl::Status LlamaRunner::Validate(absl::Span<const ForwardSequence> batch,
                                   const PagedKvCache& cache) const {
  if (batch.empty()) return absl::InvalidArgumentError("a forward step needs a sequence");
  if (!(cache.shape() == KvCacheShapeOf(config_))) {
    return absl::InvalidArgumentError("the KV cache was made for a model of another shape");
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

void LlamaRunner::Attend(int layer_index, absl::Span<const ForwardSequence> batch,
                         PagedKvCache& cache) {
  const std::size_t half = config_.head_dim / 2;
  constexpr int kBlockTokens = PagedKvCache::kBlockTokens;
  if (sequence_scratch_.size() < batch.size()) sequence_scratch_.resize(batch.size());
  std::size_t row = 0;  // first stacked row of the current sequence
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const ForwardSequence& sequence = batch[i];
    const absl::Span<const std::int32_t> blocks = sequence.blocks->blocks();
    const std::size_t n = sequence.tokens.size();
    for (std::size_t t = 0; t < n; ++t) {
      const int position = sequence.start + static_cast<int>(t);
      float* q = &q_[(row + t) * q_dim_];
      float* k = &k_[(row + t) * kv_dim_];
      kernels::RopeQk(q, config_.num_attention_heads, k, config_.num_key_value_heads,
                      config_.head_dim, &rope_cos_[(row + t) * half], &rope_sin_[(row + t) * half]);
      cache.Write(layer_index, blocks[position / kBlockTokens], position % kBlockTokens, k,
                  &v_[(row + t) * kv_dim_]);
    }
    SequenceScratch& scratch = sequence_scratch_[i];
    scratch.first_row = row;
    scratch.key_blocks.clear();
    scratch.value_blocks.clear();
    const int used_blocks = PagedKvCache::BlocksForTokens(sequence.start + static_cast<int>(n));
    for (int b = 0; b < used_blocks; ++b) {
      scratch.key_blocks.push_back(cache.keys(layer_index, blocks[b]));
      scratch.value_blocks.push_back(cache.values(layer_index, blocks[b]));
    }
    row += n;
  }
  // Sequences attend independently: one pool task each (the attention kernel then runs on the
  // task's thread; a single sequence keeps the whole pool for its own split).
  struct Context {
    LlamaRunner* runner;
    absl::Span<const ForwardSequence> batch;
    KvDtype kv_dtype;
  } context{this, batch, cache.dtype()};
  kernels::ThreadPool::Default().Run(
      batch.size(),
      +[](void* opaque, std::size_t i) {
        const Context& c = *static_cast<const Context*>(opaque);
        const ModelConfig& config = c.runner->config_;
        const AttentionShape shape{config.num_attention_heads, config.num_key_value_heads,
                                   config.head_dim, config.sliding_window};
        SequenceScratch& scratch = c.runner->sequence_scratch_[i];
        const PagedKvView view{scratch.key_blocks, scratch.value_blocks, kBlockTokens,
                               c.kv_dtype};
        const std::size_t offset = scratch.first_row * c.runner->q_dim_;
        CausalAttention(shape, &c.runner->q_[offset], c.batch[i].tokens.size(), c.batch[i].start,
                        view, &c.runner->attn_[offset]);
      },
      &context);
}

void LlamaRunner::RunLayer(const LlamaLayerWeights& layer, int layer_index,
                           absl::Span<const ForwardSequence> batch, PagedKvCache& cache,
                           std::size_t n) {
  const std::size_t hidden = config_.hidden_size;
  const auto eps = static_cast<float>(config_.rms_norm_eps);
  // Every matrix product runs once over all n stacked tokens of the step.
  if (layer_index == 0) {
    kernels::RmsNorm(x_.data(), n, hidden, layer.input_norm, eps, normed_.data());
  } else {
    kernels::AddRmsNorm(x_.data(), proj_.data(), n, hidden, layer.input_norm, eps, normed_.data());
  }
  Observe(layer_index, ActivationObserver::LinearInput::kAttention, normed_.data(), n, hidden);
  {
    const WeightMatrix* const w[] = {&layer.q, &layer.k, &layer.v};
    float* const y[] = {q_.data(), k_.data(), v_.data()};
    MatMulShared(normed_.data(), n, w, y, 3);
  }
  if (layer.q_bias != nullptr) {
    AddBias(q_.data(), n, q_dim_, layer.q_bias);
    AddBias(k_.data(), n, kv_dim_, layer.k_bias);
    AddBias(v_.data(), n, kv_dim_, layer.v_bias);
  }
  Attend(layer_index, batch, cache);
  Observe(layer_index, ActivationObserver::LinearInput::kAttentionOutput, attn_.data(), n, q_dim_);
  MatMul(attn_.data(), n, layer.o, proj_.data());
  if (layer.o_bias != nullptr) AddBias(proj_.data(), n, hidden, layer.o_bias);
  kernels::AddRmsNorm(x_.data(), proj_.data(), n, hidden, layer.post_attention_norm, eps,
                      normed_.data());
  Observe(layer_index, ActivationObserver::LinearInput::kMlp, normed_.data(), n, hidden);
  if (layer.gated) {
    GatedMlp(layer, n);
  } else {
    DenseMlp(layer, layer_index, n);
  }
}

void LlamaRunner::DenseMlp(const LlamaLayerWeights& layer, int layer_index, std::size_t n) {
  const std::size_t inner = layer.inner;
  {
    const WeightMatrix* const w[] = {&layer.gate, &layer.up};
    float* const y[] = {gate_.data(), up_.data()};
    MatMulShared(normed_.data(), n, w, y, 2);
  }
  if (observer_ != nullptr) {
    // The observed path keeps SiLU(gate) apart from its product with up.
    kernels::SiluGate(gate_.data(), n * inner, /*threshold=*/-1.0f);
    observer_->OnMlp(layer_index, gate_.data(), up_.data(), n, inner);
    for (std::size_t i = 0; i < n * inner; ++i) gate_[i] *= up_[i];
  } else {
    kernels::SiluMul(gate_.data(), up_.data(), n * inner);
  }
  Observe(layer_index, ActivationObserver::LinearInput::kMlpDown, gate_.data(), n, inner);
  MatMul(gate_.data(), n, layer.down, proj_.data());
}

void LlamaRunner::GatedMlp(const LlamaLayerWeights& layer, std::size_t n) {
  const std::size_t inner = layer.inner;
  MatMul(normed_.data(), n, layer.gate, gate_.data());
  // GhostGate: SiLU(g) * (|SiLU(g)| > t); the kernel then skips the zeroed neurons.
  mlp_activity_.active +=
      static_cast<std::int64_t>(kernels::SiluGate(gate_.data(), n * inner, layer.gate_threshold));
  mlp_activity_.total += static_cast<std::int64_t>(n * inner);
  kernels::SparseMlp(normed_.data(), gate_.data(), n, config_.hidden_size, inner,
                     AsMlpWeights(layer.up), AsMlpWeights(layer.down), proj_.data());
}

absl::Status LlamaRunner::Forward(absl::Span<const ForwardSequence> batch, PagedKvCache& cache,
                                  std::vector<float>& logits) {
  if (absl::Status s = Validate(batch, cache); !s.ok()) return s;
  const LlamaWeights& weights = model_->weights();
  const std::size_t hidden = config_.hidden_size;
  const std::size_t inner = config_.intermediate_size;
  std::size_t n = 0;
  logit_rows_.clear();
  for (const ForwardSequence& sequence : batch) {
    const std::size_t size = sequence.tokens.size();
    if (sequence.logits == LogitRows::kAll) {
      for (std::size_t t = 0; t < size; ++t) logit_rows_.push_back(n + t);
    } else if (sequence.logits == LogitRows::kLast) {
      logit_rows_.push_back(n + size - 1);
    }
    n += size;
  }
  x_.resize(n * hidden);
  normed_.resize(n * hidden);
  q_.resize(n * q_dim_);
  k_.resize(n * kv_dim_);
  v_.resize(n * kv_dim_);
  attn_.resize(n * q_dim_);
  proj_.resize(n * hidden);
  gate_.resize(n * inner);
  up_.resize(n * inner);
  const std::size_t half = config_.head_dim / 2;
  rope_cos_.resize(n * half);
  rope_sin_.resize(n * half);

  std::size_t row = 0;
  for (const ForwardSequence& sequence : batch) {
    for (std::size_t t = 0; t < sequence.tokens.size(); ++t, ++row) {
      CopyRow(weights.embed_tokens, sequence.tokens[t], &x_[row * hidden]);
      RopeCosSin(model_->rope_inv_freq(), sequence.start + static_cast<int>(t),
                 &rope_cos_[row * half], &rope_sin_[row * half]);
    }
  }
  for (int l = 0; l < config_.num_hidden_layers; ++l)
    RunLayer(weights.layers[l], l, batch, cache, n);

  // Only the rows whose logits are wanted get the last layer's residual add, the final norm
  // and the lm_head.
  const std::size_t rows = logit_rows_.size();
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t r = logit_rows_[i];
    kernels::AddRmsNorm(&x_[r * hidden], &proj_[r * hidden], 1, hidden, weights.final_norm,
                        static_cast<float>(config_.rms_norm_eps), &normed_[i * hidden]);
  }
  logits.resize(rows * static_cast<std::size_t>(config_.vocab_size));
  if (rows > 0) MatMul(normed_.data(), rows, weights.lm_head, logits.data());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Model>> LlamaModel::Create(
    ModelConfig config, std::unique_ptr<Tokenizer> tokenizer, GenerationDefaults defaults,
    std::unique_ptr<SafetensorsCheckpoint> checkpoint) {
  absl::StatusOr<LlamaWeights> weights = LoadLlamaWeights(config, std::move(checkpoint));
  if (!weights.ok()) return weights.status();
  // Private constructor: make_shared cannot reach it.
  std::shared_ptr<LlamaModel> model(new LlamaModel());
  model->weights_ = *std::move(weights);
  model->rope_inv_freq_ =
      RopeInverseFrequencies(config.head_dim, config.rope_theta, config.rope_scaling);
  ModelSummary& summary = model->summary_;
  summary.architecture = config.architecture;
  summary.parameters = model->weights_.storage->parameters();
  summary.dtype = model->weights_.storage->dominant_dtype();
  summary.weight_bytes = model->weights_.storage->resident_bytes();
  summary.tokenizer = tokenizer->type_name();
  std::size_t kept = 0;
  for (const LlamaLayerWeights& layer : model->weights_.layers) kept += layer.inner;
  const double neurons = static_cast<double>(config.intermediate_size) * config.num_hidden_layers;
  summary.removed_neuron_fraction = neurons == 0 ? 0.0 : 1.0 - static_cast<double>(kept) / neurons;
  summary.context_length = config.max_position_embeddings;
  summary.vocab_size = config.vocab_size;
  model->config_ = std::move(config);
  model->tokenizer_ = std::move(tokenizer);
  model->defaults_ = std::move(defaults);
  return std::shared_ptr<const Model>(std::move(model));
}

std::unique_ptr<ModelRunner> LlamaModel::NewRunner() const {
  return std::make_unique<LlamaRunner>(shared_from_this());
}

}  // namespace ghost
