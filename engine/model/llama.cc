#include "engine/model/llama.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/model/llama_ops.h"

namespace ghost {
namespace {

// Per-sequence state: the KV cache plus scratch buffers reused across calls.
class LlamaSession final : public ModelSession {
 public:
  explicit LlamaSession(std::shared_ptr<const LlamaModel> model)
      : model_(std::move(model)),
        config_(model_->config()),
        kv_dim_(static_cast<std::size_t>(config_.num_key_value_heads) * config_.head_dim),
        q_dim_(static_cast<std::size_t>(config_.num_attention_heads) * config_.head_dim),
        k_cache_(config_.num_hidden_layers),
        v_cache_(config_.num_hidden_layers) {}

  absl::Status Forward(absl::Span<const std::int32_t> tokens, bool all_logits,
                       std::vector<float>& logits) override;
  int num_tokens() const override { return num_tokens_; }

 private:
  void ReserveCache(int positions);
  void RunLayer(const LlamaLayerWeights& layer, int layer_index, std::size_t n);

  std::shared_ptr<const LlamaModel> model_;
  const ModelConfig& config_;
  const std::size_t kv_dim_;
  const std::size_t q_dim_;
  int num_tokens_ = 0;
  int cache_capacity_ = 0;  // positions allocated per layer
  // [layer][position * kv_dim]; grows on demand up to the context length.
  std::vector<std::vector<float>> k_cache_, v_cache_;
  std::vector<float> x_, normed_, q_, k_, v_, attn_, proj_, gate_, up_;
  AttentionScratch attention_scratch_;
};

void LlamaSession::ReserveCache(int positions) {
  if (positions <= cache_capacity_) return;
  // Geometric growth keeps appends amortized without reserving the whole context up front.
  cache_capacity_ =
      std::min(config_.max_position_embeddings, std::max({positions, 2 * cache_capacity_, 64}));
  for (int l = 0; l < config_.num_hidden_layers; ++l) {
    k_cache_[l].resize(cache_capacity_ * kv_dim_);
    v_cache_[l].resize(cache_capacity_ * kv_dim_);
  }
}

void LlamaSession::RunLayer(const LlamaLayerWeights& layer, int layer_index, std::size_t n) {
  const std::size_t hidden = config_.hidden_size;
  const std::size_t inner = config_.intermediate_size;
  const AttentionShape shape{config_.num_attention_heads, config_.num_key_value_heads,
                             config_.head_dim};
  const std::vector<double>& inv_freq = model_->rope_inv_freq();

  RmsNorm(x_.data(), n, hidden, layer.input_norm, config_.rms_norm_eps, normed_.data());
  MatMul(normed_.data(), n, layer.q, q_.data());
  MatMul(normed_.data(), n, layer.k, k_.data());
  MatMul(normed_.data(), n, layer.v, v_.data());
  float* k_cache = k_cache_[layer_index].data();
  float* v_cache = v_cache_[layer_index].data();
  for (std::size_t t = 0; t < n; ++t) {
    const int position = num_tokens_ + static_cast<int>(t);
    ApplyRope(&q_[t * q_dim_], shape.num_heads, shape.head_dim, position, inv_freq);
    ApplyRope(&k_[t * kv_dim_], shape.num_kv_heads, shape.head_dim, position, inv_freq);
    std::copy_n(&k_[t * kv_dim_], kv_dim_, k_cache + position * kv_dim_);
    std::copy_n(&v_[t * kv_dim_], kv_dim_, v_cache + position * kv_dim_);
  }
  CausalAttention(shape, q_.data(), n, num_tokens_, k_cache, v_cache, attention_scratch_,
                  attn_.data());
  MatMul(attn_.data(), n, layer.o, proj_.data());
  for (std::size_t i = 0; i < n * hidden; ++i) x_[i] += proj_[i];

  RmsNorm(x_.data(), n, hidden, layer.post_attention_norm, config_.rms_norm_eps, normed_.data());
  MatMul(normed_.data(), n, layer.gate, gate_.data());
  MatMul(normed_.data(), n, layer.up, up_.data());
  SiluMul(gate_.data(), up_.data(), n * inner);
  MatMul(gate_.data(), n, layer.down, proj_.data());
  for (std::size_t i = 0; i < n * hidden; ++i) x_[i] += proj_[i];
}

absl::Status LlamaSession::Forward(absl::Span<const std::int32_t> tokens, bool all_logits,
                                   std::vector<float>& logits) {
  const std::size_t n = tokens.size();
  if (n == 0) return absl::InvalidArgumentError("Forward needs at least one token");
  if (num_tokens_ + n > static_cast<std::size_t>(config_.max_position_embeddings)) {
    return absl::InvalidArgumentError(absl::StrCat("sequence of ", num_tokens_ + n,
                                                   " tokens exceeds the model's context of ",
                                                   config_.max_position_embeddings, " tokens"));
  }
  for (std::int32_t token : tokens) {
    if (token < 0 || token >= config_.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", token, " out of range [0, ", config_.vocab_size, ")"));
    }
  }
  const LlamaWeights& weights = model_->weights();
  const std::size_t hidden = config_.hidden_size;
  const std::size_t inner = config_.intermediate_size;
  ReserveCache(num_tokens_ + static_cast<int>(n));
  x_.resize(n * hidden);
  normed_.resize(n * hidden);
  q_.resize(n * q_dim_);
  k_.resize(n * kv_dim_);
  v_.resize(n * kv_dim_);
  attn_.resize(n * q_dim_);
  proj_.resize(n * hidden);
  gate_.resize(n * inner);
  up_.resize(n * inner);

  for (std::size_t t = 0; t < n; ++t) CopyRow(weights.embed_tokens, tokens[t], &x_[t * hidden]);
  for (int l = 0; l < config_.num_hidden_layers; ++l) RunLayer(weights.layers[l], l, n);

  // Only the rows whose logits are wanted go through the final norm and the lm_head.
  const std::size_t first = all_logits ? 0 : n - 1;
  const std::size_t rows = n - first;
  RmsNorm(&x_[first * hidden], rows, hidden, weights.final_norm, config_.rms_norm_eps,
          normed_.data());
  logits.resize(rows * static_cast<std::size_t>(config_.vocab_size));
  MatMul(normed_.data(), rows, weights.lm_head, logits.data());
  num_tokens_ += static_cast<int>(n);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Model>> LlamaModel::Create(
    ModelConfig config, std::unique_ptr<Tokenizer> tokenizer, GenerationDefaults defaults,
    std::unique_ptr<SafetensorsFile> weights_file) {
  absl::StatusOr<LlamaWeights> weights = LoadLlamaWeights(config, std::move(weights_file));
  if (!weights.ok()) return weights.status();
  // Private constructor: make_shared cannot reach it.
  std::shared_ptr<LlamaModel> model(new LlamaModel());
  model->weights_ = *std::move(weights);
  model->rope_inv_freq_ = RopeInverseFrequencies(config.head_dim, config.rope_theta);
  ModelSummary& summary = model->summary_;
  summary.architecture = config.architecture;
  summary.parameters = model->weights_.storage->parameters();
  summary.dtype = model->weights_.storage->dominant_dtype();
  summary.weight_bytes = model->weights_.storage->resident_bytes();
  summary.tokenizer = tokenizer->type_name();
  summary.context_length = config.max_position_embeddings;
  summary.vocab_size = config.vocab_size;
  model->config_ = std::move(config);
  model->tokenizer_ = std::move(tokenizer);
  model->defaults_ = std::move(defaults);
  return std::shared_ptr<const Model>(std::move(model));
}

std::unique_ptr<ModelSession> LlamaModel::NewSession() const {
  return std::make_unique<LlamaSession>(shared_from_this());
}

}  // namespace ghost
