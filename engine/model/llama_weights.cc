#include "engine/model/llama_weights.h"

#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/backend/weight_loader.h"

namespace ghost {
namespace {

// Where a decoder layer's tensors are in its unit (WeightUnit::matrix / vector).
struct LayerTensors {
  std::size_t input_norm = 0, q = 0, k = 0, v = 0, o = 0, post_attention_norm = 0;
  std::size_t gate = 0, up = 0, down = 0;
  std::optional<std::size_t> q_bias, k_bias, v_bias, o_bias;
};

// Queues decoder layer i's tensors in `loader` and fills what of `layer` the checkpoint says
// (inner, gated); the unit is the caller's to make. Errors name the tensor and the layer.
absl::Status GatherLayer(const ModelConfig& config, int i, WeightLoader& loader,
                         const GhostQuantization* quantization, LayerTensors& at,
                         LlamaLayerWeights& layer) {
  const std::int64_t hidden = config.hidden_size;
  const std::int64_t q_dim = std::int64_t{config.num_attention_heads} * config.head_dim;
  const std::int64_t kv_dim = std::int64_t{config.num_key_value_heads} * config.head_dim;
  const std::int64_t inner = config.intermediate_size;
  absl::Status status;
  // Records the first error; later tensors are still queued but the unit is never made.
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
  const std::string prefix = absl::StrCat("model.layers.", i, ".");
  at.input_norm = vector(prefix + "input_layernorm.weight", hidden);
  at.q = matrix(prefix + "self_attn.q_proj.weight", q_dim, hidden);
  at.k = matrix(prefix + "self_attn.k_proj.weight", kv_dim, hidden);
  at.v = matrix(prefix + "self_attn.v_proj.weight", kv_dim, hidden);
  at.o = matrix(prefix + "self_attn.o_proj.weight", hidden, q_dim);
  at.post_attention_norm = vector(prefix + "post_attention_layernorm.weight", hidden);
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
  at.gate = matrix(prefix + "mlp.gate_proj.weight", layer_inner, hidden);
  at.up = matrix(prefix + "mlp.up_proj.weight", layer_inner, hidden);
  if (quantization != nullptr && quantization->gated()) {
    layer.gated = true;
    layer.gate_threshold = quantization->gate_thresholds[i];
    at.down = matrix(prefix + "mlp.down_proj.weight", layer_inner, hidden);
  } else {
    at.down = matrix(prefix + "mlp.down_proj.weight", hidden, layer_inner);
  }
  if (config.qkv_bias) {
    at.q_bias = vector(prefix + "self_attn.q_proj.bias", q_dim);
    at.k_bias = vector(prefix + "self_attn.k_proj.bias", kv_dim);
    at.v_bias = vector(prefix + "self_attn.v_proj.bias", kv_dim);
  }
  if (config.output_bias) at.o_bias = vector(prefix + "self_attn.o_proj.bias", hidden);
  if (!status.ok()) {
    return absl::Status(status.code(), absl::StrCat(status.message(), " (layer ", i, " of ",
                                                    config.architecture, ")"));
  }
  return absl::OkStatus();
}

// Points `layer`'s handles into its unit.
void BindLayer(const LayerTensors& at, LlamaLayerWeights& layer) {
  const WeightUnit& unit = *layer.unit;
  layer.input_norm = &unit.vector(at.input_norm);
  layer.q = &unit.matrix(at.q);
  layer.k = &unit.matrix(at.k);
  layer.v = &unit.matrix(at.v);
  layer.o = &unit.matrix(at.o);
  layer.post_attention_norm = &unit.vector(at.post_attention_norm);
  layer.gate = &unit.matrix(at.gate);
  layer.up = &unit.matrix(at.up);
  layer.down = &unit.matrix(at.down);
  if (at.q_bias) {
    layer.q_bias = &unit.vector(*at.q_bias);
    layer.k_bias = &unit.vector(*at.k_bias);
    layer.v_bias = &unit.vector(*at.v_bias);
  }
  if (at.o_bias) layer.o_bias = &unit.vector(*at.o_bias);
}

// Where the resident unit's tensors are.
struct ResidentTensors {
  std::size_t embed_tokens = 0, final_norm = 0, lm_head = 0;
};

absl::Status GatherResident(const ModelConfig& config, WeightLoader& loader, ResidentTensors& at) {
  absl::StatusOr<std::size_t> embed =
      loader.Matrix("model.embed_tokens.weight", config.vocab_size, config.hidden_size);
  if (!embed.ok()) return embed.status();
  absl::StatusOr<std::size_t> norm = loader.Vector("model.norm.weight", config.hidden_size);
  if (!norm.ok()) return norm.status();
  at.embed_tokens = *embed;
  at.final_norm = *norm;
  at.lm_head = *embed;
  if (!config.tie_word_embeddings) {
    absl::StatusOr<std::size_t> head =
        loader.Matrix("lm_head.weight", config.vocab_size, config.hidden_size);
    if (!head.ok()) return head.status();
    at.lm_head = *head;
  }
  return absl::OkStatus();
}

const GhostQuantization* QuantizationOf(const ModelConfig& config) {
  return config.quantization ? &*config.quantization : nullptr;
}

}  // namespace

absl::StatusOr<LlamaUnitBytes> PlanLlamaUnits(const ModelConfig& config,
                                              const SafetensorsCheckpoint& checkpoint,
                                              Backend& backend) {
  WeightLoader loader(checkpoint, backend);
  loader.set_quantization(QuantizationOf(config));
  loader.set_sizing(true);
  LlamaUnitBytes bytes;
  for (int i = 0; i < config.num_hidden_layers; ++i) {
    LayerTensors at;
    LlamaLayerWeights layer;
    if (absl::Status s = GatherLayer(config, i, loader, QuantizationOf(config), at, layer);
        !s.ok()) {
      return s;
    }
    bytes.layers.push_back(loader.UnitBytes());
  }
  ResidentTensors at;
  if (absl::Status s = GatherResident(config, loader, at); !s.ok()) return s;
  bytes.resident = loader.UnitBytes();
  return bytes;
}

absl::StatusOr<LlamaWeights> LoadLlamaWeights(const ModelConfig& config,
                                              const SafetensorsCheckpoint& checkpoint,
                                              Backend& backend, LayerTransportBuilder* streaming,
                                              std::size_t first_streamed) {
  LlamaWeights weights;
  WeightLoader loader(checkpoint, backend);
  const GhostQuantization* quantization = QuantizationOf(config);
  loader.set_quantization(quantization);
  for (int i = 0; i < config.num_hidden_layers; ++i) {
    LayerTensors at;
    LlamaLayerWeights layer;
    if (absl::Status s = GatherLayer(config, i, loader, quantization, at, layer); !s.ok()) {
      return s;
    }
    const auto index = static_cast<std::size_t>(i);
    const bool streamed = streaming != nullptr && index >= first_streamed;
    absl::StatusOr<std::unique_ptr<WeightUnit>> unit =
        streamed ? loader.MakeStreamedUnit(*streaming, index) : loader.MakeUnit();
    if (!unit.ok()) {
      return absl::Status(unit.status().code(), absl::StrCat(unit.status().message(), " (layer ", i,
                                                             " of ", config.architecture, ")"));
    }
    layer.unit = *std::move(unit);
    if (streaming != nullptr && !streamed) {
      if (absl::Status s = streaming->Add(index, *layer.unit); !s.ok()) return s;
    }
    BindLayer(at, layer);
    weights.layers.push_back(std::move(layer));
  }
  ResidentTensors at;
  if (absl::Status s = GatherResident(config, loader, at); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<WeightUnit>> resident = loader.MakeUnit();
  if (!resident.ok()) return resident.status();
  weights.resident = *std::move(resident);
  weights.embed_tokens = &weights.resident->matrix(at.embed_tokens);
  weights.final_norm = &weights.resident->vector(at.final_norm);
  weights.lm_head = &weights.resident->matrix(at.lm_head);
  weights.parameters = loader.parameters();
  weights.weight_bytes = loader.resident_bytes();
  weights.dominant_dtype = loader.dominant_dtype();
  return weights;
}

}  // namespace ghost
