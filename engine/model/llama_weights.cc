#include "engine/model/llama_weights.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ghost {

absl::StatusOr<LlamaWeights> LoadLlamaWeights(const ModelConfig& config,
                                              std::unique_ptr<SafetensorsCheckpoint> checkpoint) {
  LlamaWeights weights;
  weights.storage = std::make_unique<WeightLoader>(std::move(checkpoint));
  WeightLoader& loader = *weights.storage;
  const GhostQuantization* quantization =
      config.quantization ? &*config.quantization : nullptr;
  loader.set_quantization(quantization);
  const std::int64_t hidden = config.hidden_size;
  const std::int64_t q_dim = std::int64_t{config.num_attention_heads} * config.head_dim;
  const std::int64_t kv_dim = std::int64_t{config.num_key_value_heads} * config.head_dim;
  const std::int64_t inner = config.intermediate_size;
  const std::int64_t vocab = config.vocab_size;

  absl::Status status;
  // Records the first error; later loads still run but their results are discarded.
  const auto matrix = [&](const std::string& name, std::int64_t rows, std::int64_t cols) {
    absl::StatusOr<WeightMatrix> m = loader.Matrix(name, rows, cols);
    if (!m.ok() && status.ok()) status = m.status();
    return m.ok() ? *m : WeightMatrix{};
  };
  const auto vector = [&](const std::string& name, std::int64_t size) {
    absl::StatusOr<WeightVector> v = loader.Vector(name, size);
    if (!v.ok() && status.ok()) status = v.status();
    return v.ok() ? *v : WeightVector{};
  };

  weights.embed_tokens = matrix("model.embed_tokens.weight", vocab, hidden);
  for (int i = 0; i < config.num_hidden_layers && status.ok(); ++i) {
    const std::string prefix = absl::StrCat("model.layers.", i, ".");
    LlamaLayerWeights layer;
    layer.input_norm = vector(prefix + "input_layernorm.weight", hidden);
    layer.q = matrix(prefix + "self_attn.q_proj.weight", q_dim, hidden);
    layer.k = matrix(prefix + "self_attn.k_proj.weight", kv_dim, hidden);
    layer.v = matrix(prefix + "self_attn.v_proj.weight", kv_dim, hidden);
    layer.o = matrix(prefix + "self_attn.o_proj.weight", hidden, q_dim);
    layer.post_attention_norm = vector(prefix + "post_attention_layernorm.weight", hidden);
    // A compressed model may have removed neurons: kept_neurons sizes its MLP.
    absl::StatusOr<std::optional<std::vector<std::int32_t>>> kept =
        loader.OptionalIndices(prefix + "mlp.kept_neurons");
    if (!kept.ok() && status.ok()) status = kept.status();
    layer.inner = kept.ok() && kept->has_value() ? (*kept)->size() : inner;
    if (layer.inner == 0 || layer.inner > static_cast<std::size_t>(inner)) {
      status.Update(absl::InvalidArgumentError(absl::StrCat(
          prefix, "mlp.kept_neurons holds ", layer.inner, " neurons; 1..", inner, " expected")));
    }
    const auto layer_inner = static_cast<std::int64_t>(layer.inner);
    layer.gate = matrix(prefix + "mlp.gate_proj.weight", layer_inner, hidden);
    layer.up = matrix(prefix + "mlp.up_proj.weight", layer_inner, hidden);
    if (quantization != nullptr && quantization->gated()) {
      layer.gated = true;
      layer.gate_threshold = quantization->gate_thresholds[i];
      layer.down = matrix(prefix + "mlp.down_proj.weight", layer_inner, hidden);
    } else {
      layer.down = matrix(prefix + "mlp.down_proj.weight", hidden, layer_inner);
    }
    if (config.qkv_bias) {
      layer.q_bias = vector(prefix + "self_attn.q_proj.bias", q_dim);
      layer.k_bias = vector(prefix + "self_attn.k_proj.bias", kv_dim);
      layer.v_bias = vector(prefix + "self_attn.v_proj.bias", kv_dim);
    }
    if (config.output_bias) layer.o_bias = vector(prefix + "self_attn.o_proj.bias", hidden);
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat(status.message(), " (layer ", i, " of ",
                                                      config.architecture, ")"));
    }
    weights.layers.push_back(layer);
  }
  weights.final_norm = vector("model.norm.weight", hidden);
  weights.lm_head =
      config.tie_word_embeddings ? weights.embed_tokens : matrix("lm_head.weight", vocab, hidden);
  if (!status.ok()) return status;
  return weights;
}

}  // namespace ghost
