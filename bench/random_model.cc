#include "bench/random_model.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/checkpoint/quantization_config.h"
#include "engine/checkpoint/quantized_tensors.h"
#include "engine/checkpoint/safetensors_writer.h"
#include "engine/compress/fp16.h"
#include "engine/compressor/model_compressor.h"
#include "engine/formats/packing.h"
#include "nlohmann/json.hpp"

namespace ghost::bench {
namespace {

constexpr std::int64_t kVocab = 32000, kHidden = 2048, kInner = 5632, kLayers = 22;
constexpr std::int64_t kHeads = 32, kKvHeads = 4, kHeadDim = 64;

// xorshift64: fast, seeded, good enough for benchmark weights.
struct Random {
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  std::uint64_t Next() {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return state;
  }
  // Uniform in [-0.035, 0.035): std 0.02.
  float Weight() { return (static_cast<float>(Next() >> 40) / 16777216.0f - 0.5f) * 0.07f; }
};

// bf16 (truncated) or, with f16, IEEE half values.
std::vector<std::uint16_t> RandomHalf(std::size_t count, bool ones, bool f16, Random& random) {
  std::vector<std::uint16_t> out(count);
  for (std::uint16_t& value : out) {
    const float w = ones ? 1.0f : random.Weight();
    if (f16) {
      value = compress::F32ToF16(w);
    } else {
      std::uint32_t bits;
      std::memcpy(&bits, &w, 4);
      value = static_cast<std::uint16_t>(bits >> 16);
    }
  }
  return out;
}

// Random codes and scales in the compressed layout of `q`.
compress::QuantizedMatrix RandomQuantized(std::size_t rows, std::size_t cols,
                                          const GhostQuantization& q, Random& random) {
  compress::QuantizedMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.format = q.format;
  m.block_size = q.block_size;
  m.scale_scheme = q.scale_scheme;
  m.sub_scale_bits = q.sub_scale_bits;
  m.codebook_group_rows = q.codebook_group_rows;
  const bool codebook = q.format == WeightFormat::kCodebook2Bit;
  m.codes.resize(rows * m.code_bytes_per_row());
  std::vector<std::int8_t> codes(m.block_size);
  std::uint8_t* out = m.codes.data();
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t b = 0; b < m.blocks_per_row(); ++b) {
      for (std::size_t j = 0; j < codes.size(); ++j) {
        const bool padding = b * m.block_size + j >= cols;
        const auto draw =
            static_cast<std::int8_t>(codebook ? random.Next() % 4 : random.Next() % 3 - 1);
        codes[j] = padding ? 0 : draw;
      }
      PackCodes(q.format, codes, absl::MakeSpan(out, m.block_bytes()));
      out += m.block_bytes();
    }
  }
  m.scales.assign(rows * m.scales_per_row(), compress::ScaleToF16(0.02f));
  if (m.scale_scheme == compress::ScaleScheme::kTwoLevel) {
    m.sub_scales.resize(rows * m.sub_scale_bytes_per_row());
    for (std::uint8_t& byte : m.sub_scales) byte = static_cast<std::uint8_t>(random.Next());
  }
  if (codebook) {
    for (std::size_t g = 0; g < m.num_codebook_groups(); ++g) {
      for (float entry : {-1.5f, -0.5f, 0.5f, 1.5f}) {
        m.codebook.push_back(compress::F32ToF16(entry));
      }
    }
  }
  return m;
}

}  // namespace

const std::vector<std::string>& RandomModelFormats() {
  static const auto* formats = [] {
    auto* v = new std::vector<std::string>{"bf16", "f16"};
    for (const std::string& scheme : compress::CompressSchemes()) v->push_back(scheme);
    return v;
  }();
  return *formats;
}

absl::Status WriteRandomTinyLlama(const std::string& dir, const std::string& tokenizer_dir,
                                  const std::string& format, int block_size) {
  std::optional<GhostQuantization> quantization;
  const bool f16 = format == "f16";
  if (format != "bf16" && !f16) {
    const std::vector<std::string>& schemes = compress::CompressSchemes();
    if (std::find(schemes.begin(), schemes.end(), format) == schemes.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown format ", format, "; known: ", absl::StrJoin(RandomModelFormats(), ", ")));
    }
    quantization = compress::QuantizationForScheme(format, block_size);
  }

  Random random;
  std::deque<std::vector<std::uint16_t>> dense;
  std::deque<compress::QuantizedMatrix> quantized;
  std::vector<TensorToWrite> tensors;
  const auto add_dense = [&](const std::string& name, std::vector<std::int64_t> shape) {
    std::size_t count = 1;
    for (std::int64_t d : shape) count *= static_cast<std::size_t>(d);
    dense.push_back(RandomHalf(count, shape.size() == 1, f16, random));
    tensors.push_back({name,
                       f16 ? Dtype::kF16 : Dtype::kBF16,
                       std::move(shape),
                       {reinterpret_cast<const std::uint8_t*>(dense.back().data()), count * 2}});
  };
  const auto add_linear = [&](const std::string& name, std::int64_t rows, std::int64_t cols) {
    if (!quantization) return add_dense(name, {rows, cols});
    quantized.push_back(RandomQuantized(static_cast<std::size_t>(rows),
                                        static_cast<std::size_t>(cols), *quantization, random));
    for (const TensorToWrite& t : QuantizedTensorsToWrite(LinearBaseName(name), quantized.back())) {
      tensors.push_back(t);
    }
  };
  add_dense("model.embed_tokens.weight", {kVocab, kHidden});
  add_dense("lm_head.weight", {kVocab, kHidden});
  add_dense("model.norm.weight", {kHidden});
  for (int l = 0; l < kLayers; ++l) {
    const std::string p = absl::StrCat("model.layers.", l, ".");
    add_dense(p + "input_layernorm.weight", {kHidden});
    add_dense(p + "post_attention_layernorm.weight", {kHidden});
    add_linear(p + "self_attn.q_proj.weight", kHeads * kHeadDim, kHidden);
    add_linear(p + "self_attn.k_proj.weight", kKvHeads * kHeadDim, kHidden);
    add_linear(p + "self_attn.v_proj.weight", kKvHeads * kHeadDim, kHidden);
    add_linear(p + "self_attn.o_proj.weight", kHidden, kHeads * kHeadDim);
    add_linear(p + "mlp.gate_proj.weight", kInner, kHidden);
    add_linear(p + "mlp.up_proj.weight", kInner, kHidden);
    add_linear(p + "mlp.down_proj.weight", kHidden, kInner);
  }
  if (absl::Status s = WriteSafetensors(dir + "/model.safetensors", tensors, {}); !s.ok()) {
    return s;
  }
  nlohmann::json config = {{"architectures", {"LlamaForCausalLM"}},
                           {"model_type", "llama"},
                           {"vocab_size", kVocab},
                           {"hidden_size", kHidden},
                           {"intermediate_size", kInner},
                           {"num_hidden_layers", kLayers},
                           {"num_attention_heads", kHeads},
                           {"num_key_value_heads", kKvHeads},
                           {"head_dim", kHeadDim},
                           // TinyLlama's is 2048: room for `ghostbench decode --context 2048`
                           // and longer, where attention reads as much as the weights.
                           {"max_position_embeddings", 8192},
                           {"rms_norm_eps", 1e-5},
                           {"rope_theta", 10000.0},
                           {"torch_dtype", f16 ? "float16" : "bfloat16"},
                           {"bos_token_id", 1},
                           {"eos_token_id", 2},
                           {"tie_word_embeddings", false}};
  if (quantization) config["quantization_config"] = quantization->ToJson();
  std::ofstream(dir + "/config.json") << config.dump(2);
  std::error_code error;
  std::filesystem::copy_file(tokenizer_dir + "/tokenizer.json", dir + "/tokenizer.json", error);
  if (error) {
    return absl::InternalError(absl::StrCat("copy tokenizer.json: ", error.message()));
  }
  return absl::OkStatus();
}

}  // namespace ghost::bench
