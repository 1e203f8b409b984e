// Test fixtures for the engine: safetensors writing, byte-level tokenizer.json and tiny random
// Llama model directories built on the fly.
#ifndef GHOST_TESTS_ENGINE_TEST_MODEL_H_
#define GHOST_TESTS_ENGINE_TEST_MODEL_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ghost::testing {

// A fresh empty directory under the test temp dir.
std::string MakeTempDir(const std::string& prefix);
void WriteFile(const std::string& path, const std::string& contents);

struct TestTensor {
  std::string dtype;  // "F32", "BF16", ...
  std::vector<std::int64_t> shape;
  std::string bytes;  // raw little-endian data
};
// A valid safetensors image (header padded to 8 bytes), tensors in name order.
std::string SafetensorsBytes(const std::map<std::string, TestTensor>& tensors,
                             const std::map<std::string, std::string>& metadata = {});
// Builds the file image from an explicit header JSON and data section (for malformed files).
std::string RawSafetensors(const std::string& header, const std::string& data);

std::string F32Bytes(const std::vector<float>& values);
std::string Bf16Bytes(const std::vector<float>& values);  // round to nearest even
std::string F16Bytes(const std::vector<float>& values);
float RoundToBf16(float value);
float RoundToF16(float value);

// The trainer's tokenizer.json: byte b has id b, <s>=256, </s>=257, <pad>=258.
std::string ByteLevelTokenizerJson();

struct TinyLlamaSpec {
  int vocab_size = 259;
  int hidden_size = 32;
  int intermediate_size = 48;
  int num_layers = 2;
  int num_heads = 4;
  int num_kv_heads = 2;
  int head_dim = 8;
  int context = 64;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  std::string dtype = "F32";  // storage of every tensor: F32, BF16 or F16
  std::uint64_t seed = 1;
  // Non-empty: a gated model, one threshold per layer. It is laid out as the compressor writes
  // one (quantization_config with gate_thresholds, down_proj stored transposed) but every
  // linear layer stays dense in `dtype`: the model has no quantized tensors.
  std::vector<float> gate_thresholds;
};

// Layers large beside the embedding (hidden 64, inner 256, 4 heads of 16, 2 KV heads), so that a
// small weight budget streams most of `num_layers` layers: the streaming tests' model.
TinyLlamaSpec WideLayerSpec(int num_layers);

// The path of the one file in `directory` (a streamed model's layer cache directory); a test
// failure, and "", unless there is exactly one.
std::string LayerFileIn(const std::string& directory);

// The weights as the forward should see them (already rounded to the storage dtype), each in
// its Hugging Face layout (down_proj [hidden, inner] even where it is stored transposed).
using TensorMap = std::map<std::string, std::vector<float>>;

// The random tensors of a tiny Llama, as stored; `weights` receives them as fp32.
std::map<std::string, TestTensor> TinyLlamaTensors(const TinyLlamaSpec& spec, TensorMap* weights);

// Writes config.json, model.safetensors and tokenizer.json into `directory`.
TensorMap WriteTinyLlama(const std::string& directory, const TinyLlamaSpec& spec);

// What the reference forward's MLPs computed, for tests that place gate thresholds.
struct ReferenceMlpTrace {
  // Per layer, |SiLU(gate)| of every token and neuron ([tokens * inner]), before any gate.
  std::vector<std::vector<double>> silu_gate_magnitudes;
};

// Independent double-precision Llama forward over the whole sequence, no cache:
// logits [tokens.size() * vocab]. A gated spec zeroes every SiLU(gate) with
// |SiLU(gate)| <= its layer's threshold before the product with up.
std::vector<double> ReferenceLlamaForward(const TinyLlamaSpec& spec, const TensorMap& weights,
                                          const std::vector<std::int32_t>& tokens,
                                          ReferenceMlpTrace* trace = nullptr);

}  // namespace ghost::testing

#endif  // GHOST_TESTS_ENGINE_TEST_MODEL_H_
