#include "engine/compressor/gguf_export.h"

#include <cstring>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/checkpoint/checkpoint.h"
#include "engine/checkpoint/gguf_import.h"
#include "engine/checkpoint/gguf_types.h"
#include "engine/checkpoint/gguf_vocab.h"
#include "engine/checkpoint/gguf_writer.h"
#include "engine/checkpoint/quantized_tensors.h"
#include "engine/common/file.h"
#include "engine/common/json.h"
#include "engine/common/status_macros.h"
#include "engine/compress/fp16.h"
#include "engine/formats/packing.h"
#include "engine/model/config.h"

namespace ghost::compress {
namespace {

using Json = nlohmann::json;

// llama.cpp's llama_ftype values (general.file_type).
constexpr std::uint32_t kFileTypeF32 = 0, kFileTypeF16 = 1, kFileTypeBf16 = 32, kFileTypeTQ1_0 = 36,
                        kFileTypeTQ2_0 = 37, kFileTypeQ2_0 = 41;

std::uint32_t TypeId(GgmlType type) { return static_cast<std::uint32_t>(type); }

class Exporter {
 public:
  Exporter(const ModelConfig& config, const SafetensorsCheckpoint& weights, GgufWriter& writer)
      : config_(config), weights_(weights), writer_(writer) {}

  // The ggml type the compressed linears become; nullopt for a dense model.
  absl::StatusOr<std::optional<GgmlType>> QuantType() const {
    if (!config_.quantization) return std::nullopt;
    const GhostQuantization& q = *config_.quantization;
    if (q.gated()) {
      return absl::FailedPreconditionError(
          "GGUF has no activation gates, and a gated model stores down_proj transposed for "
          "them; compress with target_sparsity 0 to export GGUF");
    }
    if (q.format == WeightFormat::kTernary2Bit && q.block_size == kQ2_0Block)
      return GgmlType::kQ2_0;
    if (q.format == WeightFormat::kTernary2Bit && q.block_size == kTQBlock) return GgmlType::kTQ2_0;
    if (q.format == WeightFormat::kTernaryBase3 && q.block_size == kTQBlock) {
      return GgmlType::kTQ1_0;
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "GGUF has no type for ", WeightFormatName(q.format), " at block ", q.block_size,
        " (it holds ternary-2bit at block 64 as Q2_0, ternary-2bit at block 256 as TQ2_0 and "
        "ternary-base3 at block 256 as TQ1_0)"));
  }

  // A vector (norm, bias) as F32; `rope_heads` > 0 reorders it as llama.cpp's q/k.
  absl::Status Vector(const std::string& hf, const std::string& gguf, std::int64_t rope_heads) {
    const TensorView* t = weights_.Find(hf);
    if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("missing tensor ", hf));
    std::vector<float> values(static_cast<std::size_t>(t->num_elements()));
    const std::uint32_t type = t->dtype == Dtype::kF16    ? TypeId(GgmlType::kF16)
                               : t->dtype == Dtype::kBF16 ? TypeId(GgmlType::kBF16)
                                                          : TypeId(GgmlType::kF32);
    DequantizeToF32(type, absl::MakeConstSpan(t->data, t->nbytes), absl::MakeSpan(values));
    std::vector<std::uint8_t> bytes(values.size() * sizeof(float));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    const auto rows = static_cast<std::int64_t>(values.size());
    return writer_.AddTensor(gguf, TypeId(GgmlType::kF32), {rows},
                             Permuted(std::move(bytes), rows, rope_heads));
  }

  // A matrix [rows, cols]: dense as stored, or its q-tensors as ggml ternary blocks.
  absl::Status Matrix(const std::string& hf, const std::string& gguf, std::int64_t rows,
                      std::int64_t cols, std::optional<GgmlType> quant, std::int64_t rope_heads) {
    const TensorLookup lookup = [this](const std::string& n) { return weights_.Find(n); };
    const std::string base = LinearBaseName(hf);
    std::vector<std::uint8_t> bytes;
    std::uint32_t type = 0;
    if (quant && HasQuantizedTensors(lookup, base)) {
      GHOST_ASSIGN_OR_RETURN(
          QuantizedMatrix m,
          ReadQuantizedMatrix(lookup, weights_.path(), base, rows, cols, *config_.quantization));
      GHOST_ASSIGN_OR_RETURN(bytes, TernaryBlocks(m, *quant, hf));
      type = TypeId(*quant);
    } else {
      const TensorView* t = weights_.Find(hf);
      if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("missing tensor ", hf));
      if (t->shape != std::vector<std::int64_t>{rows, cols}) {
        return absl::InvalidArgumentError(absl::StrCat("tensor ", hf, " has an unexpected shape"));
      }
      type = t->dtype == Dtype::kF16    ? TypeId(GgmlType::kF16)
             : t->dtype == Dtype::kBF16 ? TypeId(GgmlType::kBF16)
                                        : TypeId(GgmlType::kF32);
      if (t->dtype != Dtype::kF32 && t->dtype != Dtype::kF16 && t->dtype != Dtype::kBF16) {
        return absl::UnimplementedError(
            absl::StrCat("tensor ", hf, " has dtype ", DtypeName(t->dtype)));
      }
      bytes.assign(t->data, t->data + t->nbytes);
      if (dense_type_ < 0) dense_type_ = static_cast<int>(type);
    }
    return writer_.AddTensor(gguf, type, {cols, rows},
                             Permuted(std::move(bytes), rows, rope_heads));
  }

  int dense_type() const { return dense_type_; }

 private:
  // llama.cpp's q/k row order: GGUF row g holds Hugging Face row LlamaRopeRowToHf(g).
  static std::vector<std::uint8_t> Permuted(std::vector<std::uint8_t> bytes, std::int64_t rows,
                                            std::int64_t heads) {
    if (heads <= 0) return bytes;
    const std::size_t row_bytes = bytes.size() / static_cast<std::size_t>(rows);
    std::vector<std::uint8_t> out(bytes.size());
    for (std::int64_t g = 0; g < rows; ++g) {
      std::memcpy(out.data() + g * row_bytes,
                  bytes.data() + LlamaRopeRowToHf(g, rows, heads) * row_bytes, row_bytes);
    }
    return out;
  }

  static absl::StatusOr<std::vector<std::uint8_t>> TernaryBlocks(const QuantizedMatrix& m,
                                                                 GgmlType type,
                                                                 const std::string& name) {
    if (m.cols % m.block_size != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "tensor ", name, ": ", m.cols, " columns are not whole blocks of ", m.block_size));
    }
    const GgmlTypeInfo info = *FindGgmlType(TypeId(type));
    const std::size_t blocks = m.blocks_per_row();
    std::vector<std::uint8_t> out(m.rows * blocks * info.block_bytes);
    TernaryBlock block;
    for (std::size_t r = 0; r < m.rows; ++r) {
      for (std::size_t b = 0; b < blocks; ++b) {
        UnpackCodes(
            m.format,
            absl::MakeConstSpan(m.codes.data() + r * m.code_bytes_per_row() + b * m.block_bytes(),
                                m.block_bytes()),
            absl::MakeSpan(block.codes, m.block_size));
        // The fp16 scale the server runs with (two-level scales are expanded so at load).
        block.scale_f16 = m.scale_scheme == ScaleScheme::kF16PerBlock
                              ? m.scales[r * m.scales_per_row() + b]
                              : ScaleToF16(m.BlockScale(r, b));
        std::uint8_t* p = out.data() + (r * blocks + b) * info.block_bytes;
        if (type == GgmlType::kQ2_0) EncodeQ2_0(block, p);
        if (type == GgmlType::kTQ2_0) EncodeTQ2_0(block, p);
        if (type == GgmlType::kTQ1_0) EncodeTQ1_0(block, p);
      }
    }
    return out;
  }

  const ModelConfig& config_;
  const SafetensorsCheckpoint& weights_;
  GgufWriter& writer_;
  int dense_type_ = -1;  // the ggml type of the first dense linear
};

// Every layer's MLP width: kept_neurons' count where neurons were removed. All must agree.
absl::StatusOr<std::int64_t> UniformIntermediateSize(const ModelConfig& config,
                                                     const SafetensorsCheckpoint& weights) {
  std::int64_t size = -1;
  for (int layer = 0; layer < config.num_hidden_layers; ++layer) {
    const TensorView* kept =
        weights.Find(absl::StrCat("model.layers.", layer, ".mlp.kept_neurons"));
    const std::int64_t n = kept == nullptr ? config.intermediate_size : kept->num_elements();
    if (size >= 0 && n != size) {
      return absl::FailedPreconditionError(
          absl::StrCat("GGUF needs one intermediate size for every layer; layer ", layer, " keeps ",
                       n, " MLP neurons and an earlier one ", size));
    }
    size = n;
  }
  return size;
}

}  // namespace

absl::Status ExportGguf(const std::string& model_dir, const std::string& output_path) {
  const std::string config_path = JoinPath(model_dir, "config.json");
  GHOST_ASSIGN_OR_RETURN(const std::string config_text, ReadFileToString(config_path));
  GHOST_ASSIGN_OR_RETURN(const ModelConfig config, ParseModelConfig(config_text, config_path));
  std::string arch;
  if (config.architecture == "LlamaForCausalLM") arch = "llama";
  if (config.architecture == "Qwen2ForCausalLM") arch = "qwen2";
  if (arch.empty() || config.sliding_window != 0 || config.output_bias) {
    return absl::UnimplementedError(absl::StrCat(
        config.architecture, " is not exported to GGUF (llama and qwen2 without o_proj bias are)"));
  }
  // llama.cpp keeps Llama 3.1's rope scaling as a rope_freqs tensor, which is not written here.
  if (config.rope_scaling.type == RopeScaling::Type::kLlama3) {
    return absl::UnimplementedError("llama3 rope scaling is not exported to GGUF");
  }
  GHOST_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsCheckpoint> weights,
                         SafetensorsCheckpoint::Open(model_dir));
  GHOST_ASSIGN_OR_RETURN(const std::int64_t inner, UniformIntermediateSize(config, *weights));
  GHOST_ASSIGN_OR_RETURN(const std::string tokenizer_json,
                         ReadFileToString(JoinPath(model_dir, "tokenizer.json")));

  GgufWriter writer;
  Exporter exporter(config, *weights, writer);
  GHOST_ASSIGN_OR_RETURN(const std::optional<GgmlType> quant, exporter.QuantType());
  const std::string p = arch + ".";
  writer.SetString("general.architecture", arch);
  writer.SetString("general.name", model_dir.substr(model_dir.find_last_of('/') + 1));
  writer.SetU32("general.quantization_version", 2);
  writer.SetU32(p + "context_length", config.max_position_embeddings);
  writer.SetU32(p + "embedding_length", config.hidden_size);
  writer.SetU32(p + "block_count", config.num_hidden_layers);
  writer.SetU32(p + "feed_forward_length", static_cast<std::uint32_t>(inner));
  writer.SetU32(p + "attention.head_count", config.num_attention_heads);
  writer.SetU32(p + "attention.head_count_kv", config.num_key_value_heads);
  writer.SetU32(p + "attention.key_length", config.head_dim);
  writer.SetU32(p + "attention.value_length", config.head_dim);
  writer.SetU32(p + "rope.dimension_count", config.head_dim);
  writer.SetF32(p + "rope.freq_base", static_cast<float>(config.rope_theta));
  writer.SetF32(p + "attention.layer_norm_rms_epsilon", static_cast<float>(config.rms_norm_eps));
  writer.SetU32(p + "vocab_size", config.vocab_size);
  if (config.rope_scaling.type == RopeScaling::Type::kLinear) {
    writer.SetString(p + "rope.scaling.type", "linear");
    writer.SetF32(p + "rope.scaling.factor", static_cast<float>(config.rope_scaling.factor));
  }
  GHOST_RETURN_IF_ERROR(
      AddTokenizerMetadata(tokenizer_json, config.bos_token_id.value_or(-1),
                           config.eos_token_ids.empty() ? -1 : config.eos_token_ids[0], writer));
  if (absl::StatusOr<std::string> text =
          ReadFileToString(JoinPath(model_dir, "tokenizer_config.json"));
      text.ok()) {
    const Json tokenizer_config = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (tokenizer_config.is_object() && tokenizer_config.contains("chat_template") &&
        tokenizer_config["chat_template"].is_string()) {
      writer.SetString("tokenizer.chat_template", tokenizer_config["chat_template"]);
    }
  }

  const std::int64_t hidden = config.hidden_size, vocab = config.vocab_size, hd = config.head_dim;
  const std::int64_t heads = config.num_attention_heads, kv = config.num_key_value_heads;
  const std::int64_t q_rope = arch == "llama" ? heads : 0, k_rope = arch == "llama" ? kv : 0;
  GHOST_RETURN_IF_ERROR(exporter.Matrix("model.embed_tokens.weight", "token_embd.weight", vocab,
                                        hidden, std::nullopt, 0));
  for (int layer = 0; layer < config.num_hidden_layers; ++layer) {
    const std::string hf = absl::StrCat("model.layers.", layer, ".");
    const std::string gg = absl::StrCat("blk.", layer, ".");
    GHOST_RETURN_IF_ERROR(
        exporter.Vector(hf + "input_layernorm.weight", gg + "attn_norm.weight", 0));
    GHOST_RETURN_IF_ERROR(exporter.Matrix(hf + "self_attn.q_proj.weight", gg + "attn_q.weight",
                                          heads * hd, hidden, quant, q_rope));
    GHOST_RETURN_IF_ERROR(exporter.Matrix(hf + "self_attn.k_proj.weight", gg + "attn_k.weight",
                                          kv * hd, hidden, quant, k_rope));
    GHOST_RETURN_IF_ERROR(exporter.Matrix(hf + "self_attn.v_proj.weight", gg + "attn_v.weight",
                                          kv * hd, hidden, quant, 0));
    if (config.qkv_bias) {
      GHOST_RETURN_IF_ERROR(
          exporter.Vector(hf + "self_attn.q_proj.bias", gg + "attn_q.bias", q_rope));
      GHOST_RETURN_IF_ERROR(
          exporter.Vector(hf + "self_attn.k_proj.bias", gg + "attn_k.bias", k_rope));
      GHOST_RETURN_IF_ERROR(exporter.Vector(hf + "self_attn.v_proj.bias", gg + "attn_v.bias", 0));
    }
    GHOST_RETURN_IF_ERROR(exporter.Matrix(hf + "self_attn.o_proj.weight", gg + "attn_output.weight",
                                          hidden, heads * hd, quant, 0));
    GHOST_RETURN_IF_ERROR(
        exporter.Vector(hf + "post_attention_layernorm.weight", gg + "ffn_norm.weight", 0));
    GHOST_RETURN_IF_ERROR(exporter.Matrix(hf + "mlp.gate_proj.weight", gg + "ffn_gate.weight",
                                          inner, hidden, quant, 0));
    GHOST_RETURN_IF_ERROR(
        exporter.Matrix(hf + "mlp.up_proj.weight", gg + "ffn_up.weight", inner, hidden, quant, 0));
    GHOST_RETURN_IF_ERROR(exporter.Matrix(hf + "mlp.down_proj.weight", gg + "ffn_down.weight",
                                          hidden, inner, quant, 0));
  }
  GHOST_RETURN_IF_ERROR(exporter.Vector("model.norm.weight", "output_norm.weight", 0));
  if (!config.tie_word_embeddings) {
    GHOST_RETURN_IF_ERROR(
        exporter.Matrix("lm_head.weight", "output.weight", vocab, hidden, std::nullopt, 0));
  }
  std::uint32_t file_type = kFileTypeF32;
  if (quant == GgmlType::kQ2_0) file_type = kFileTypeQ2_0;
  if (quant == GgmlType::kTQ2_0) file_type = kFileTypeTQ2_0;
  if (quant == GgmlType::kTQ1_0) file_type = kFileTypeTQ1_0;
  if (!quant && exporter.dense_type() == static_cast<int>(GgmlType::kF16)) file_type = kFileTypeF16;
  if (!quant && exporter.dense_type() == static_cast<int>(GgmlType::kBF16)) {
    file_type = kFileTypeBf16;
  }
  writer.SetU32("general.file_type", file_type);
  return writer.WriteFile(output_path);
}

}  // namespace ghost::compress
