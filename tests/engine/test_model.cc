#include "tests/engine/test_model.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ghost::testing {
namespace {

using Json = nlohmann::json;

std::uint32_t FloatBits(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return bits;
}

std::uint16_t ToBf16Bits(float value) {
  const std::uint32_t bits = FloatBits(value);
  const std::uint32_t rounding = 0x7FFF + ((bits >> 16) & 1);
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

// fp32 -> IEEE half, round to nearest even; test values are small normals or zero.
std::uint16_t ToF16Bits(float value) {
  const std::uint32_t bits = FloatBits(value);
  const std::uint32_t sign = (bits >> 16) & 0x8000;
  const float magnitude = std::fabs(value);
  if (magnitude < 6.2e-5f) {  // subnormal range: quantize in units of 2^-24
    return static_cast<std::uint16_t>(
        sign | static_cast<std::uint32_t>(std::nearbyint(magnitude * 16777216.0f)));
  }
  const int exponent = static_cast<int>((bits >> 23) & 0xFF) - 127 + 15;
  std::uint32_t mantissa = bits & 0x7FFFFF;
  std::uint32_t half = (static_cast<std::uint32_t>(exponent) << 10) | (mantissa >> 13);
  const std::uint32_t rest = mantissa & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) ++half;
  return static_cast<std::uint16_t>(sign | half);
}

float F16BitsToFloat(std::uint16_t h) {
  const int exponent = (h >> 10) & 0x1F;
  const int mantissa = h & 0x3FF;
  const float magnitude = exponent == 0 ? std::ldexp(static_cast<float>(mantissa), -24)
                                        : std::ldexp(1.0f + mantissa / 1024.0f, exponent - 15);
  return (h & 0x8000) ? -magnitude : magnitude;
}

std::string EncodeCodepoint(char32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return out;
}

// `values` as a little-endian tensor of `dtype` (F32, BF16 or F16).
std::string StorageBytes(const std::string& dtype, const std::vector<float>& values) {
  if (dtype == "BF16") return Bf16Bytes(values);
  if (dtype == "F16") return F16Bytes(values);
  return F32Bytes(values);
}

}  // namespace

std::string MakeTempDir(const std::string& prefix) {
  std::string root = ::testing::TempDir();
  if (root.empty() || root.back() != '/') root += '/';
  std::string pattern = root + prefix + "XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string RawSafetensors(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  std::uint64_t size = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((size >> (8 * i)) & 0xFF);
  return out + header + data;
}

std::string SafetensorsBytes(const std::map<std::string, TestTensor>& tensors,
                             const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  std::string data;
  for (const auto& [name, tensor] : tensors) {
    header[name] = {{"dtype", tensor.dtype},
                    {"shape", tensor.shape},
                    {"data_offsets", {data.size(), data.size() + tensor.bytes.size()}}};
    data += tensor.bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  return RawSafetensors(text, data);
}

std::string F32Bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4);
}

std::string Bf16Bytes(const std::vector<float>& values) {
  std::string out;
  for (float v : values) {
    const std::uint16_t bits = ToBf16Bits(v);
    out.push_back(static_cast<char>(bits & 0xFF));
    out.push_back(static_cast<char>(bits >> 8));
  }
  return out;
}

std::string F16Bytes(const std::vector<float>& values) {
  std::string out;
  for (float v : values) {
    const std::uint16_t bits = ToF16Bits(v);
    out.push_back(static_cast<char>(bits & 0xFF));
    out.push_back(static_cast<char>(bits >> 8));
  }
  return out;
}

float RoundToBf16(float value) {
  const std::uint32_t bits = static_cast<std::uint32_t>(ToBf16Bits(value)) << 16;
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

float RoundToF16(float value) { return F16BitsToFloat(ToF16Bits(value)); }

std::string ByteLevelTokenizerJson() {
  Json vocab = Json::object();
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    vocab[EncodeCodepoint(printable ? b : next++)] = b;
  }
  Json added = Json::array();
  const char* specials[] = {"<s>", "</s>", "<pad>"};
  for (int i = 0; i < 3; ++i) {
    added.push_back({{"id", 256 + i},
                     {"content", specials[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  Json tokenizer = {{"version", "1.0"},
                    {"truncation", nullptr},
                    {"padding", nullptr},
                    {"added_tokens", added},
                    {"normalizer", nullptr},
                    {"pre_tokenizer",
                     {{"type", "ByteLevel"},
                      {"add_prefix_space", false},
                      {"trim_offsets", false},
                      {"use_regex", false}}},
                    {"post_processor", nullptr},
                    {"decoder",
                     {{"type", "ByteLevel"},
                      {"add_prefix_space", false},
                      {"trim_offsets", false},
                      {"use_regex", false}}},
                    {"model",
                     {{"type", "BPE"},
                      {"dropout", nullptr},
                      {"unk_token", nullptr},
                      {"byte_fallback", false},
                      {"vocab", vocab},
                      {"merges", Json::array()}}}};
  return tokenizer.dump(2);
}

std::map<std::string, TestTensor> TinyLlamaTensors(const TinyLlamaSpec& spec, TensorMap* weights) {
  std::mt19937_64 rng(spec.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::map<std::string, TestTensor> tensors;
  const auto add = [&](const std::string& name, std::vector<std::int64_t> shape, float scale,
                       float offset) {
    std::int64_t count = 1;
    for (std::int64_t d : shape) count *= d;
    std::vector<float> values(count);
    for (float& v : values) {
      v = offset + scale * normal(rng);
      if (spec.dtype == "BF16") v = RoundToBf16(v);
      if (spec.dtype == "F16") v = RoundToF16(v);
    }
    tensors[name] = TestTensor{spec.dtype, shape, StorageBytes(spec.dtype, values)};
    (*weights)[name] = std::move(values);
  };
  const std::int64_t h = spec.hidden_size, q = spec.num_heads * spec.head_dim,
                     kv = spec.num_kv_heads * spec.head_dim, inner = spec.intermediate_size,
                     vocab = spec.vocab_size;
  const float w = 0.3f;  // large enough that attention and logits are far from uniform
  add("model.embed_tokens.weight", {vocab, h}, 1.0f, 0.0f);
  for (int l = 0; l < spec.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {h}, 0.1f, 1.0f);
    add(p + "self_attn.q_proj.weight", {q, h}, w, 0.0f);
    add(p + "self_attn.k_proj.weight", {kv, h}, w, 0.0f);
    add(p + "self_attn.v_proj.weight", {kv, h}, w, 0.0f);
    add(p + "self_attn.o_proj.weight", {h, q}, w, 0.0f);
    add(p + "post_attention_layernorm.weight", {h}, 0.1f, 1.0f);
    add(p + "mlp.gate_proj.weight", {inner, h}, w, 0.0f);
    add(p + "mlp.up_proj.weight", {inner, h}, w, 0.0f);
    add(p + "mlp.down_proj.weight", {h, inner}, w, 0.0f);
    if (!spec.gate_thresholds.empty()) {
      // A gated model's sparse MLP reads one down_proj row per neuron.
      const std::vector<float>& down = weights->at(p + "mlp.down_proj.weight");
      std::vector<float> down_t(down.size());
      for (std::int64_t r = 0; r < h; ++r) {
        for (std::int64_t c = 0; c < inner; ++c) down_t[c * h + r] = down[r * inner + c];
      }
      tensors[p + "mlp.down_proj.weight"] =
          TestTensor{spec.dtype, {inner, h}, StorageBytes(spec.dtype, down_t)};
    }
  }
  add("model.norm.weight", {h}, 0.1f, 1.0f);
  if (!spec.tie_word_embeddings) add("lm_head.weight", {vocab, h}, w, 0.0f);
  return tensors;
}

TensorMap WriteTinyLlama(const std::string& directory, const TinyLlamaSpec& spec) {
  TensorMap weights;
  const std::map<std::string, TestTensor> tensors = TinyLlamaTensors(spec, &weights);

  const char* torch_dtype = spec.dtype == "BF16"  ? "bfloat16"
                            : spec.dtype == "F16" ? "float16"
                                                  : "float32";
  Json config = {{"architectures", {"LlamaForCausalLM"}},
                 {"model_type", "llama"},
                 {"vocab_size", spec.vocab_size},
                 {"hidden_size", spec.hidden_size},
                 {"intermediate_size", spec.intermediate_size},
                 {"num_hidden_layers", spec.num_layers},
                 {"num_attention_heads", spec.num_heads},
                 {"num_key_value_heads", spec.num_kv_heads},
                 {"head_dim", spec.head_dim},
                 {"max_position_embeddings", spec.context},
                 {"rms_norm_eps", spec.rms_norm_eps},
                 {"rope_theta", spec.rope_theta},
                 {"hidden_act", "silu"},
                 {"tie_word_embeddings", spec.tie_word_embeddings},
                 {"torch_dtype", torch_dtype},
                 {"bos_token_id", 256},
                 {"eos_token_id", 257},
                 {"rope_scaling", nullptr}};
  if (!spec.gate_thresholds.empty()) {
    // The fields the compressor always writes; they describe quantized tensors, and this
    // model has none, so the loader reads every linear layer from its dense X.weight.
    config["quantization_config"] = {
        {"quant_method", "ghost"},  {"scheme", "ternary"},
        {"format", "ternary-2bit"}, {"block_size", 64},
        {"scale_scheme", "fp16"},   {"gate_thresholds", spec.gate_thresholds}};
  }
  WriteFile(directory + "/config.json", config.dump(2));
  WriteFile(directory + "/model.safetensors", SafetensorsBytes(tensors, {{"format", "pt"}}));
  WriteFile(directory + "/tokenizer.json", ByteLevelTokenizerJson());
  return weights;
}

std::vector<double> ReferenceLlamaForward(const TinyLlamaSpec& spec, const TensorMap& weights,
                                          const std::vector<std::int32_t>& tokens,
                                          ReferenceMlpTrace* trace) {
  const int n = static_cast<int>(tokens.size());
  const int h = spec.hidden_size, hd = spec.head_dim, nh = spec.num_heads, nkv = spec.num_kv_heads,
            inner = spec.intermediate_size, vocab = spec.vocab_size;
  using Matrix = std::vector<std::vector<double>>;
  // y[t][r] = sum_c x[t][c] * W[r][c] for a row-major [rows, cols] weight.
  const auto linear = [&](const Matrix& x, const std::string& name, int rows, int cols) {
    const std::vector<float>& wt = weights.at(name);
    Matrix y(x.size(), std::vector<double>(rows, 0.0));
    for (size_t t = 0; t < x.size(); ++t) {
      for (int r = 0; r < rows; ++r) {
        double sum = 0.0;
        for (int c = 0; c < cols; ++c) sum += x[t][c] * wt[static_cast<size_t>(r) * cols + c];
        y[t][r] = sum;
      }
    }
    return y;
  };
  const auto norm = [&](const Matrix& x, const std::string& name) {
    const std::vector<float>& wt = weights.at(name);
    Matrix y = x;
    for (auto& row : y) {
      double ms = 0.0;
      for (double v : row) ms += v * v;
      const double scale = 1.0 / std::sqrt(ms / h + spec.rms_norm_eps);
      for (int i = 0; i < h; ++i) row[i] = row[i] * scale * wt[i];
    }
    return y;
  };
  const auto rope = [&](Matrix& x, int heads) {
    for (int t = 0; t < n; ++t) {
      for (int head = 0; head < heads; ++head) {
        double* v = &x[t][head * hd];
        std::vector<double> rotated(hd);
        for (int i = 0; i < hd; ++i) {
          const int pair = i % (hd / 2);
          const double angle = t * std::pow(spec.rope_theta, -2.0 * pair / hd);
          const double partner = i < hd / 2 ? -v[i + hd / 2] : v[i - hd / 2];
          rotated[i] = v[i] * std::cos(angle) + partner * std::sin(angle);
        }
        std::copy(rotated.begin(), rotated.end(), v);
      }
    }
  };

  Matrix x(n, std::vector<double>(h));
  const std::vector<float>& embed = weights.at("model.embed_tokens.weight");
  for (int t = 0; t < n; ++t) {
    for (int i = 0; i < h; ++i) x[t][i] = embed[static_cast<size_t>(tokens[t]) * h + i];
  }
  for (int l = 0; l < spec.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const Matrix xn = norm(x, p + "input_layernorm.weight");
    Matrix q = linear(xn, p + "self_attn.q_proj.weight", nh * hd, h);
    Matrix k = linear(xn, p + "self_attn.k_proj.weight", nkv * hd, h);
    const Matrix v = linear(xn, p + "self_attn.v_proj.weight", nkv * hd, h);
    rope(q, nh);
    rope(k, nkv);
    Matrix attn(n, std::vector<double>(nh * hd, 0.0));
    for (int t = 0; t < n; ++t) {
      for (int head = 0; head < nh; ++head) {
        const int kvh = head / (nh / nkv);
        std::vector<double> scores(t + 1);
        double max_score = -1e300;
        for (int s = 0; s <= t; ++s) {
          double dot = 0.0;
          for (int d = 0; d < hd; ++d) dot += q[t][head * hd + d] * k[s][kvh * hd + d];
          scores[s] = dot / std::sqrt(static_cast<double>(hd));
          max_score = std::max(max_score, scores[s]);
        }
        double total = 0.0;
        for (double& sc : scores) total += (sc = std::exp(sc - max_score));
        for (int s = 0; s <= t; ++s) {
          for (int d = 0; d < hd; ++d) {
            attn[t][head * hd + d] += scores[s] / total * v[s][kvh * hd + d];
          }
        }
      }
    }
    const Matrix o = linear(attn, p + "self_attn.o_proj.weight", h, nh * hd);
    for (int t = 0; t < n; ++t) {
      for (int i = 0; i < h; ++i) x[t][i] += o[t][i];
    }
    const Matrix xn2 = norm(x, p + "post_attention_layernorm.weight");
    Matrix gate = linear(xn2, p + "mlp.gate_proj.weight", inner, h);
    const Matrix up = linear(xn2, p + "mlp.up_proj.weight", inner, h);
    std::vector<double> magnitudes;
    for (int t = 0; t < n; ++t) {
      for (int i = 0; i < inner; ++i) {
        double silu = gate[t][i] / (1.0 + std::exp(-gate[t][i]));
        magnitudes.push_back(std::abs(silu));
        if (!spec.gate_thresholds.empty() && std::abs(silu) <= spec.gate_thresholds[l]) silu = 0;
        gate[t][i] = silu * up[t][i];
      }
    }
    if (trace != nullptr) trace->silu_gate_magnitudes.push_back(std::move(magnitudes));
    const Matrix down = linear(gate, p + "mlp.down_proj.weight", h, inner);
    for (int t = 0; t < n; ++t) {
      for (int i = 0; i < h; ++i) x[t][i] += down[t][i];
    }
  }
  const Matrix final_x = norm(x, "model.norm.weight");
  const std::string head =
      spec.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  const Matrix logits = linear(final_x, head, vocab, h);
  std::vector<double> out;
  for (const auto& row : logits) out.insert(out.end(), row.begin(), row.end());
  return out;
}

TinyLlamaSpec WideLayerSpec(int num_layers) {
  TinyLlamaSpec spec;
  spec.hidden_size = 64;
  spec.intermediate_size = 256;
  spec.num_layers = num_layers;
  spec.num_heads = 4;
  spec.num_kv_heads = 2;
  spec.head_dim = 16;
  return spec;
}

std::string LayerFileIn(const std::string& directory) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    files.push_back(entry.path().string());
  }
  EXPECT_EQ(files.size(), 1u) << directory;
  return files.empty() ? "" : files[0];
}

}  // namespace ghost::testing
