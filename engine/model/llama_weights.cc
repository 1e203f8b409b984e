#include "engine/model/llama_weights.h"

#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/backend/weight_loader.h"

namespace ghost {

absl::StatusOr<LlamaWeights> LoadLlamaWeights(const ModelConfig& config,
                                              std::unique_ptr<SafetensorsCheckpoint> checkpoint,
                                              Backend& backend) {
  LlamaWeights weights;
  WeightLoader loader(std::move(checkpoint), backend);
  const GhostQuantization* quantization = config.quantization ? &*config.quantization : nullptr;
  loader.set_quantization(quantization);
  const std::int64_t hidden = config.hidden_size;
  const std::int64_t q_dim = std::int64_t{config.num_attention_heads} * config.head_dim;
  const std::int64_t kv_dim = std::int64_t{config.num_key_value_heads} * config.head_dim;
  const std::int64_t inner = config.intermediate_size;
  const std::int64_t vocab = config.vocab_size;

  absl::Status status;
  // Queue a tensor for the unit being gathered and return its index there. Records the first
  // error; later loads still run but their results are discarded.
  const auto matrix = [&](const std::string& name, std::int64_t rows, std::int64_t cols) {
    absl::StatusOr<std::size_t> m = loader.Matrix(name, rows, cols);
    if (!m.ok() && status.ok()) status = m.status();
    return m.ok() ? *m : 0;
  };
  const auto vector = [&](const std::string& name, std::int64_t size) {
    absl::StatusOr<std::size_t> v = loader.Vector(name, size);
    if (!v.ok() && status.ok()) status = v.status();
    return v.ok() ? *v : 0;
  };
  const auto make_unit = [&]() -> std::unique_ptr<WeightUnit> {
    absl::StatusOr<std::unique_ptr<WeightUnit>> unit = loader.MakeUnit();
    if (!unit.ok() && status.ok()) status = unit.status();
    return unit.ok() ? *std::move(unit) : nullptr;
  };

  for (int i = 0; i < config.num_hidden_layers && status.ok(); ++i) {
    const std::string prefix = absl::StrCat("model.layers.", i, ".");
    const std::size_t input_norm = vector(prefix + "input_layernorm.weight", hidden);
    const std::size_t q = matrix(prefix + "self_attn.q_proj.weight", q_dim, hidden);
    const std::size_t k = matrix(prefix + "self_attn.k_proj.weight", kv_dim, hidden);
    const std::size_t v = matrix(prefix + "self_attn.v_proj.weight", kv_dim, hidden);
    const std::size_t o = matrix(prefix + "self_attn.o_proj.weight", hidden, q_dim);
    const std::size_t post_attention_norm =
        vector(prefix + "post_attention_layernorm.weight", hidden);
    LlamaLayerWeights layer;
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
    const std::size_t gate = matrix(prefix + "mlp.gate_proj.weight", layer_inner, hidden);
    const std::size_t up = matrix(prefix + "mlp.up_proj.weight", layer_inner, hidden);
    std::size_t down = 0;
    if (quantization != nullptr && quantization->gated()) {
      layer.gated = true;
      layer.gate_threshold = quantization->gate_thresholds[i];
      down = matrix(prefix + "mlp.down_proj.weight", layer_inner, hidden);
    } else {
      down = matrix(prefix + "mlp.down_proj.weight", hidden, layer_inner);
    }
    std::optional<std::size_t> q_bias, k_bias, v_bias, o_bias;
    if (config.qkv_bias) {
      q_bias = vector(prefix + "self_attn.q_proj.bias", q_dim);
      k_bias = vector(prefix + "self_attn.k_proj.bias", kv_dim);
      v_bias = vector(prefix + "self_attn.v_proj.bias", kv_dim);
    }
    if (config.output_bias) o_bias = vector(prefix + "self_attn.o_proj.bias", hidden);
    if (status.ok()) layer.unit = make_unit();
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat(status.message(), " (layer ", i, " of ",
                                                      config.architecture, ")"));
    }
    const WeightUnit& unit = *layer.unit;
    layer.input_norm = &unit.vector(input_norm);
    layer.q = &unit.matrix(q);
    layer.k = &unit.matrix(k);
    layer.v = &unit.matrix(v);
    layer.o = &unit.matrix(o);
    layer.post_attention_norm = &unit.vector(post_attention_norm);
    layer.gate = &unit.matrix(gate);
    layer.up = &unit.matrix(up);
    layer.down = &unit.matrix(down);
    if (q_bias) {
      layer.q_bias = &unit.vector(*q_bias);
      layer.k_bias = &unit.vector(*k_bias);
      layer.v_bias = &unit.vector(*v_bias);
    }
    if (o_bias) layer.o_bias = &unit.vector(*o_bias);
    weights.layers.push_back(std::move(layer));
  }

  const std::size_t embed_tokens = matrix("model.embed_tokens.weight", vocab, hidden);
  const std::size_t final_norm = vector("model.norm.weight", hidden);
  const std::size_t lm_head =
      config.tie_word_embeddings ? embed_tokens : matrix("lm_head.weight", vocab, hidden);
  if (status.ok()) weights.resident = make_unit();
  if (!status.ok()) return status;
  weights.embed_tokens = &weights.resident->matrix(embed_tokens);
  weights.final_norm = &weights.resident->vector(final_norm);
  weights.lm_head = &weights.resident->matrix(lm_head);
  weights.parameters = loader.parameters();
  weights.weight_bytes = loader.resident_bytes();
  weights.dominant_dtype = loader.dominant_dtype();
  return weights;
}

}  // namespace ghost
