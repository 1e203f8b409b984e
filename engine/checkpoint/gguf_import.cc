#include "engine/checkpoint/gguf_import.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/checkpoint/gguf_types.h"
#include "engine/checkpoint/gguf_vocab.h"
#include "engine/checkpoint/quantization_config.h"
#include "engine/checkpoint/quantized_tensors.h"
#include "engine/checkpoint/safetensors_writer.h"
#include "engine/common/status_macros.h"
#include "engine/compress/quantized_matrix.h"
#include "engine/formats/packing.h"

namespace ghost {
namespace {

using Json = nlohmann::json;

enum class Rope { kNone, kQuery, kKey };

struct HfTensor {
  std::string name;
  bool linear = false;  // a projection that may stay ternary
  Rope rope = Rope::kNone;
};

// GGUF tensor name -> its Hugging Face counterpart; nullopt for a name neither family has.
std::optional<HfTensor> MapName(const std::string& name) {
  if (name == "token_embd.weight") return HfTensor{"model.embed_tokens.weight"};
  if (name == "output_norm.weight") return HfTensor{"model.norm.weight"};
  if (name == "output.weight") return HfTensor{"lm_head.weight"};
  if (!absl::StartsWith(name, "blk.")) return std::nullopt;
  const std::size_t dot = name.find('.', 4);
  int layer = 0;
  if (dot == std::string::npos || dot - 4 > 6 ||
      !absl::SimpleAtoi(name.substr(4, dot - 4), &layer)) {
    return std::nullopt;
  }
  struct Entry {
    const char* gguf;
    const char* hf;
    bool linear;
    Rope rope;
  };
  static constexpr Entry kLayer[] = {
      {"attn_norm.weight", "input_layernorm.weight", false, Rope::kNone},
      {"ffn_norm.weight", "post_attention_layernorm.weight", false, Rope::kNone},
      {"attn_q.weight", "self_attn.q_proj.weight", true, Rope::kQuery},
      {"attn_q.bias", "self_attn.q_proj.bias", false, Rope::kQuery},
      {"attn_k.weight", "self_attn.k_proj.weight", true, Rope::kKey},
      {"attn_k.bias", "self_attn.k_proj.bias", false, Rope::kKey},
      {"attn_v.weight", "self_attn.v_proj.weight", true, Rope::kNone},
      {"attn_v.bias", "self_attn.v_proj.bias", false, Rope::kNone},
      {"attn_output.weight", "self_attn.o_proj.weight", true, Rope::kNone},
      {"attn_output.bias", "self_attn.o_proj.bias", false, Rope::kNone},
      {"ffn_gate.weight", "mlp.gate_proj.weight", true, Rope::kNone},
      {"ffn_up.weight", "mlp.up_proj.weight", true, Rope::kNone},
      {"ffn_down.weight", "mlp.down_proj.weight", true, Rope::kNone},
  };
  const std::string rest = name.substr(dot + 1);
  for (const Entry& e : kLayer) {
    if (rest == e.gguf) {
      return HfTensor{absl::StrCat("model.layers.", layer, ".", e.hf), e.linear, e.rope};
    }
  }
  return std::nullopt;
}

bool IsTernary(std::uint32_t type) {
  return type == static_cast<std::uint32_t>(GgmlType::kQ2_0) ||
         type == static_cast<std::uint32_t>(GgmlType::kTQ2_0) ||
         type == static_cast<std::uint32_t>(GgmlType::kTQ1_0);
}

bool IsSupported(std::uint32_t type) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kBF16:
    case GgmlType::kQ8_0:
    case GgmlType::kQ4_0:
    case GgmlType::kQ2_0:
    case GgmlType::kTQ2_0:
    case GgmlType::kTQ1_0:
      return true;
  }
  return false;
}

// The Hugging Face rows of a GGUF q/k tensor (or bias), whatever its type: a row is whole blocks.
absl::StatusOr<std::vector<std::uint8_t>> UnpermuteRows(const GgufFile& file, const GgufTensor& t,
                                                        std::int64_t heads) {
  const std::int64_t rows = t.dims.size() == 1 ? t.dims[0] : t.dims[1];
  if (t.dims.size() == 1 && FindGgmlType(t.type)->block_size != 1) {
    return absl::InvalidArgumentError(absl::StrCat(file.name(), ": tensor ", SanitizedName(t.name),
                                                   " is a ", GgmlTypeName(t.type), " vector"));
  }
  if (heads <= 0 || rows <= 0 || rows % heads != 0 || (rows / heads) % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.name(), ": tensor ", SanitizedName(t.name), " has ", rows,
                     " rows, not an even count per each of ", heads, " heads"));
  }
  // A row is one value of a bias, or whole blocks of a matrix.
  const std::size_t row_bytes = t.nbytes / static_cast<std::size_t>(rows);
  std::vector<std::uint8_t> out(t.nbytes);
  for (std::int64_t g = 0; g < rows; ++g) {
    std::memcpy(out.data() + LlamaRopeRowToHf(g, rows, heads) * row_bytes, t.data + g * row_bytes,
                row_bytes);
  }
  return out;
}

// The layout every ternary linear of the file is served in (see the header).
struct TernaryTarget {
  WeightFormat format = WeightFormat::kTernary2Bit;
  std::size_t block_size = 0;  // 0: the file has no ternary linear
};

// The codes and scales of a ternary tensor [rows, cols] in `target`'s layout; nullopt when a
// Q2_0 / TQ2_0 block uses the code for +2.
std::optional<compress::QuantizedMatrix> ToQuantized(std::uint32_t type, const std::uint8_t* data,
                                                     std::size_t rows, std::size_t cols,
                                                     const TernaryTarget& target) {
  compress::QuantizedMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.format = target.format;
  m.block_size = target.block_size;
  m.codes.resize(rows * m.code_bytes_per_row());
  m.scales.resize(rows * m.blocks_per_row());
  const GgmlTypeInfo info = *FindGgmlType(type);
  const std::size_t sub_blocks = info.block_size / target.block_size;
  const std::size_t blocks_per_row = cols / info.block_size;
  TernaryBlock block;
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t b = 0; b < blocks_per_row; ++b) {
      const std::uint8_t* p = data + (r * blocks_per_row + b) * info.block_bytes;
      if (type == static_cast<std::uint32_t>(GgmlType::kQ2_0)) {
        if (!DecodeQ2_0(p, block)) return std::nullopt;
      } else if (type == static_cast<std::uint32_t>(GgmlType::kTQ2_0)) {
        if (!DecodeTQ2_0(p, block)) return std::nullopt;
      } else {
        DecodeTQ1_0(p, block);
      }
      for (std::size_t s = 0; s < sub_blocks; ++s) {
        const std::size_t ours = b * sub_blocks + s;
        PackCodes(
            target.format,
            absl::MakeConstSpan(block.codes + s * target.block_size, target.block_size),
            absl::MakeSpan(m.codes.data() + r * m.code_bytes_per_row() + ours * m.block_bytes(),
                           m.block_bytes()));
        m.scales[r * m.blocks_per_row() + ours] = block.scale_f16;
      }
    }
  }
  return m;
}

absl::StatusOr<Json> ReadConfig(const GgufFile& file, const std::string& arch, bool tied,
                                bool attention_bias) {
  const std::string p = arch + ".";
  Json config = {{"architectures", {arch == "llama" ? "LlamaForCausalLM" : "Qwen2ForCausalLM"}},
                 {"model_type", arch},
                 {"hidden_act", "silu"},
                 {"tie_word_embeddings", tied}};
  if (arch == "llama") config["attention_bias"] = attention_bias;
  GHOST_ASSIGN_OR_RETURN(config["hidden_size"], file.GetInt(p + "embedding_length"));
  GHOST_ASSIGN_OR_RETURN(config["intermediate_size"], file.GetInt(p + "feed_forward_length"));
  GHOST_ASSIGN_OR_RETURN(config["num_hidden_layers"], file.GetInt(p + "block_count"));
  GHOST_ASSIGN_OR_RETURN(const std::int64_t heads, file.GetInt(p + "attention.head_count"));
  config["num_attention_heads"] = heads;
  GHOST_ASSIGN_OR_RETURN(config["num_key_value_heads"],
                         file.GetOptionalInt(p + "attention.head_count_kv", heads));
  GHOST_ASSIGN_OR_RETURN(config["max_position_embeddings"], file.GetInt(p + "context_length"));
  GHOST_ASSIGN_OR_RETURN(config["rms_norm_eps"],
                         file.GetReal(p + "attention.layer_norm_rms_epsilon"));
  GHOST_ASSIGN_OR_RETURN(config["rope_theta"], file.GetOptionalReal(p + "rope.freq_base", 1e4));
  if (file.Find(p + "attention.key_length") != nullptr) {
    GHOST_ASSIGN_OR_RETURN(config["head_dim"], file.GetInt(p + "attention.key_length"));
  }
  if (file.Find(p + "rope.dimension_count") != nullptr) {
    GHOST_ASSIGN_OR_RETURN(const std::int64_t rope_dims, file.GetInt(p + "rope.dimension_count"));
    const std::int64_t hidden = config["hidden_size"].get<std::int64_t>();
    const std::int64_t head_dim = config.contains("head_dim")
                                      ? config["head_dim"].get<std::int64_t>()
                                      : (heads > 0 ? hidden / heads : 0);
    if (rope_dims != head_dim) {
      return absl::UnimplementedError(absl::StrCat(file.name(), ": ", p, "rope.dimension_count ",
                                                   rope_dims,
                                                   " (partial rotary) is not supported"));
    }
  }
  std::string scaling = "none";
  if (file.Find(p + "rope.scaling.type") != nullptr) {
    GHOST_ASSIGN_OR_RETURN(scaling, file.GetString(p + "rope.scaling.type"));
  }
  if (scaling == "linear") {
    GHOST_ASSIGN_OR_RETURN(const double factor, file.GetReal(p + "rope.scaling.factor"));
    config["rope_scaling"] = {{"rope_type", "linear"}, {"factor", factor}};
  } else if (scaling != "none") {
    return absl::UnimplementedError(absl::StrCat(file.name(), ": ", p, "rope.scaling.type \"",
                                                 SanitizedName(scaling), "\" is not supported"));
  }
  if (file.Find(p + "vocab_size") != nullptr) {
    GHOST_ASSIGN_OR_RETURN(config["vocab_size"], file.GetInt(p + "vocab_size"));
  } else if (const GgufTensor* embed = file.FindTensor("token_embd.weight");
             embed != nullptr && embed->dims.size() == 2) {
    config["vocab_size"] = embed->dims[1];
  }
  if (file.Find("tokenizer.ggml.bos_token_id") != nullptr) {
    GHOST_ASSIGN_OR_RETURN(config["bos_token_id"], file.GetInt("tokenizer.ggml.bos_token_id"));
  }
  Json eos = Json::array();
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"}) {
    if (file.Find(key) == nullptr) continue;
    GHOST_ASSIGN_OR_RETURN(const std::int64_t id, file.GetInt(key));
    if (std::find(eos.begin(), eos.end(), Json(id)) == eos.end()) eos.push_back(id);
  }
  if (!eos.empty()) config["eos_token_id"] = eos;
  return config;
}

}  // namespace

std::int64_t LlamaRopeRowToHf(std::int64_t gguf_row, std::int64_t rows, std::int64_t heads) {
  const std::int64_t d = rows / heads;
  const std::int64_t within = gguf_row % d;
  return gguf_row - within + (within % 2) * (d / 2) + within / 2;
}

absl::StatusOr<Json> ImportGgufConfig(const GgufFile& file) {
  GHOST_ASSIGN_OR_RETURN(const std::string arch, file.GetString("general.architecture"));
  if (arch != "llama" && arch != "qwen2") {
    return absl::UnimplementedError(absl::StrCat(file.name(), ": architecture \"",
                                                 SanitizedName(arch),
                                                 "\" is not supported (supported: llama, qwen2)"));
  }
  if (file.FindTensor("rope_freqs.weight") != nullptr) {
    return absl::UnimplementedError(absl::StrCat(
        file.name(), ": rope_freqs.weight (Llama 3.1-style rope scaling) is not supported"));
  }
  return ReadConfig(file, arch, file.FindTensor("output.weight") == nullptr,
                    file.FindTensor("blk.0.attn_q.bias") != nullptr);
}

absl::StatusOr<GgufModel> ImportGguf(const GgufFile& file) {
  GgufModel model;
  GHOST_ASSIGN_OR_RETURN(model.config, ImportGgufConfig(file));
  const std::string arch = model.config["model_type"].get<std::string>();
  GHOST_ASSIGN_OR_RETURN(model.tokenizer_json, GgufTokenizerJson(file));
  if (file.Find("tokenizer.chat_template") != nullptr) {
    GHOST_ASSIGN_OR_RETURN(model.chat_template, file.GetString("tokenizer.chat_template"));
  }

  // Which ternary layout the linears share (see the header).
  bool any_q2 = false, any_tq2 = false, any_tq1 = false;
  for (const GgufTensor& t : file.tensors()) {
    const std::optional<HfTensor> hf = MapName(t.name);
    if (!hf || !hf->linear) continue;
    any_q2 |= t.type == static_cast<std::uint32_t>(GgmlType::kQ2_0);
    any_tq2 |= t.type == static_cast<std::uint32_t>(GgmlType::kTQ2_0);
    any_tq1 |= t.type == static_cast<std::uint32_t>(GgmlType::kTQ1_0);
  }
  TernaryTarget target;
  if (any_q2) {
    target.block_size = kQ2_0Block;
  } else if (any_tq2 || any_tq1) {
    target.block_size = kTQBlock;
    if (!any_tq2) target.format = WeightFormat::kTernaryBase3;
  }

  const std::int64_t heads = model.config["num_attention_heads"].get<std::int64_t>();
  const std::int64_t kv_heads = model.config["num_key_value_heads"].get<std::int64_t>();
  std::deque<std::vector<std::uint8_t>> dense;      // owned bytes of the dense tensors
  std::deque<compress::QuantizedMatrix> quantized;  // owned q-tensors
  std::vector<TensorToWrite> tensors;
  for (const GgufTensor& t : file.tensors()) {
    const std::optional<HfTensor> hf = MapName(t.name);
    const std::string where = absl::StrCat(file.name(), ": tensor ", SanitizedName(t.name));
    if (!hf) {
      return absl::UnimplementedError(
          absl::StrCat(where, " has no counterpart in the llama and qwen2 architectures"));
    }
    if (!IsSupported(t.type)) {
      return absl::UnimplementedError(
          absl::StrCat(where, " has type ", GgmlTypeName(t.type),
                       "; supported: F32, F16, BF16, Q8_0, Q4_0, Q2_0, TQ1_0, TQ2_0"));
    }
    if (t.dims.size() > 2) return absl::InvalidArgumentError(absl::StrCat(where, " is not 2-D"));
    std::vector<std::int64_t> shape(t.dims.rbegin(), t.dims.rend());  // [rows, cols]
    const std::uint8_t* data = t.data;
    std::vector<std::uint8_t> unpermuted;
    if (arch == "llama" && hf->rope != Rope::kNone) {
      GHOST_ASSIGN_OR_RETURN(unpermuted,
                             UnpermuteRows(file, t, hf->rope == Rope::kQuery ? heads : kv_heads));
      data = unpermuted.data();
    }
    if (hf->linear && IsTernary(t.type) && shape.size() == 2) {
      std::optional<compress::QuantizedMatrix> m =
          ToQuantized(t.type, data, static_cast<std::size_t>(shape[0]),
                      static_cast<std::size_t>(shape[1]), target);
      if (m) {
        quantized.push_back(*std::move(m));
        for (TensorToWrite& w :
             QuantizedTensorsToWrite(LinearBaseName(hf->name), quantized.back())) {
          tensors.push_back(std::move(w));
        }
        continue;
      }
    }
    Dtype dtype = Dtype::kF32;
    if (t.type == static_cast<std::uint32_t>(GgmlType::kF16)) dtype = Dtype::kF16;
    if (t.type == static_cast<std::uint32_t>(GgmlType::kBF16)) dtype = Dtype::kBF16;
    if (t.type == static_cast<std::uint32_t>(GgmlType::kF32) || dtype != Dtype::kF32) {
      dense.emplace_back(data, data + t.nbytes);
    } else {
      std::vector<float> values(static_cast<std::size_t>(t.num_elements()));
      DequantizeToF32(t.type, absl::MakeConstSpan(data, t.nbytes), absl::MakeSpan(values));
      std::vector<std::uint8_t>& bytes = dense.emplace_back(values.size() * sizeof(float));
      std::memcpy(bytes.data(), values.data(), bytes.size());
    }
    tensors.push_back({hf->name, dtype, shape, absl::MakeConstSpan(dense.back())});
  }
  if (target.block_size != 0) {
    GhostQuantization q;
    q.scheme = "gguf";
    q.format = target.format;
    q.block_size = target.block_size;
    model.config["quantization_config"] = q.ToJson();
  }
  GHOST_ASSIGN_OR_RETURN(std::string image, SafetensorsImage(tensors, {}));
  GHOST_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsFile> weights,
                         SafetensorsFile::FromImage(std::move(image), file.name()));
  model.weights = std::make_unique<SafetensorsCheckpoint>(std::move(weights));
  return model;
}

}  // namespace ghost
