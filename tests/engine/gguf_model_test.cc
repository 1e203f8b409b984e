// GGUF models end to end: a model exported to GGUF (dense, or compressed as Q2_0 / TQ2_0 /
// TQ1_0) loads back with the same logits as its directory; a GGUF written here independently
// (Q8_0 and Q4_0 linears, q/k permuted by llama.cpp's convert formula) gives the logits of the
// same dequantized weights from safetensors; unsupported files fail with clear errors.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "engine/checkpoint/gguf.h"
#include "engine/checkpoint/gguf_import.h"
#include "engine/checkpoint/gguf_types.h"
#include "engine/checkpoint/gguf_vocab.h"
#include "engine/checkpoint/gguf_writer.h"
#include "engine/compress/fp16.h"
#include "engine/compressor/gguf_export.h"
#include "engine/compressor/model_compressor.h"
#include "engine/model/model.h"
#include "engine/registry/registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/compress_fixture.h"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using ::ghost::testing::TinyLlamaSpec;
using ::testing::HasSubstr;

const std::vector<std::int32_t> kTokens = {72, 101, 108, 108, 111, 44, 32, 119, 111, 114};

std::vector<float> Logits(const std::string& path) {
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(path);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return {};
  std::vector<float> logits;
  EXPECT_TRUE((*model)->NewSession()->Forward(kTokens, /*all_logits=*/true, logits).ok());
  return logits;
}

// Compresses `dir` with the compressor (no gates, no removal) and returns the output directory.
std::string Compress(const std::string& dir, const std::string& scheme, int block_size) {
  compress::CompressJobSpec job;
  job.source_dir = dir;
  job.output_dir = dir + "-" + scheme + "-" + std::to_string(block_size);
  job.scheme = scheme;
  job.block_size = block_size;
  return ghost::testing::CompressForTest(job, 1500);
}

TinyLlamaSpec BlockSpec(int width) {  // every linear's columns a multiple of `width`
  TinyLlamaSpec spec;
  spec.hidden_size = width;
  spec.intermediate_size = width;
  spec.num_heads = 4;
  spec.num_kv_heads = 2;
  spec.head_dim = width / 4;
  spec.context = 512;  // the compressor profiles windows of 512 tokens
  return spec;
}

class GgufModelTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ghost::testing::MakeTempDir("gguf-model"); }

  // Exports `model_dir` and expects identical logits from the GGUF file.
  std::string ExpectRoundTrip(const std::string& model_dir) {
    const std::string gguf = model_dir + ".gguf";
    const absl::Status exported = compress::ExportGguf(model_dir, gguf);
    EXPECT_TRUE(exported.ok()) << exported;
    const std::vector<float> expected = Logits(model_dir);
    EXPECT_FALSE(expected.empty());
    EXPECT_EQ(Logits(gguf), expected);
    return gguf;
  }

  std::string dir_;
};

TEST_F(GgufModelTest, DenseModelsRoundTrip) {
  TinyLlamaSpec f32;
  const std::string f32_dir = ghost::testing::MakeTempDir("gguf-f32");
  const std::string bf16_dir = ghost::testing::MakeTempDir("gguf-bf16");
  ghost::testing::WriteTinyLlama(f32_dir, f32);
  const std::string gguf = ExpectRoundTrip(f32_dir);
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(gguf);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(*(*file)->GetString("general.architecture"), "llama");
  EXPECT_EQ(*(*file)->GetInt("llama.block_count"), 2);
  EXPECT_EQ(*(*file)->GetString("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ((*file)->FindTensor("blk.1.ffn_down.weight")->dims,
            (std::vector<std::int64_t>{48, 32}));

  TinyLlamaSpec bf16;
  bf16.dtype = "BF16";
  bf16.tie_word_embeddings = true;
  ghost::testing::WriteTinyLlama(bf16_dir, bf16);
  ExpectRoundTrip(bf16_dir);
}

TEST_F(GgufModelTest, TernaryModelsRoundTripAsGgmlTypes) {
  const std::string w64 = ghost::testing::MakeTempDir("gguf-w64");
  const std::string w256 = ghost::testing::MakeTempDir("gguf-w256");
  ghost::testing::WriteTinyLlama(w64, BlockSpec(64));
  const std::string q2 = ExpectRoundTrip(Compress(w64, "ternary", 64));
  ghost::testing::WriteTinyLlama(w256, BlockSpec(256));
  const std::string tq2 = ExpectRoundTrip(Compress(w256, "ternary", 256));
  const std::string tq1 = ExpectRoundTrip(Compress(w256, "ternary-base3", 256));
  const std::string two_level = ExpectRoundTrip(Compress(w256, "ternary-2level", 64));
  const auto type_of = [](const std::string& path, const std::string& tensor) {
    absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::Open(path);
    EXPECT_TRUE(file.ok());
    return file.ok() ? GgmlTypeName((*file)->FindTensor(tensor)->type) : "";
  };
  EXPECT_EQ(type_of(q2, "blk.0.attn_q.weight"), "Q2_0");
  EXPECT_EQ(type_of(q2, "token_embd.weight"), "F32");
  EXPECT_EQ(type_of(tq2, "blk.1.ffn_down.weight"), "TQ2_0");
  EXPECT_EQ(type_of(tq1, "blk.1.ffn_up.weight"), "TQ1_0");
  EXPECT_EQ(type_of(two_level, "blk.0.attn_v.weight"), "Q2_0");
}

TEST_F(GgufModelTest, CompressionJobWritesGgufBesideTheSafetensors) {
  const std::string w64 = ghost::testing::MakeTempDir("gguf-job");
  ghost::testing::WriteTinyLlama(w64, BlockSpec(64));
  compress::CompressJobSpec job;
  job.source_dir = w64;
  job.output_dir = w64 + "-out";
  job.scheme = "ternary";
  job.block_size = 64;
  job.output_format = "gguf";
  job.calibration_text = "The quick brown fox jumps over the lazy dog. ";
  const std::atomic<bool> no_cancel{false};
  absl::StatusOr<compress::CompressReport> report = compress::CompressModelDirectory(
      job, [](const compress::CompressProgress&) {}, no_cancel);
  ASSERT_TRUE(report.ok()) << report.status();
  const std::string gguf = job.output_dir + "/" + compress::kGgufOutputFile;
  EXPECT_EQ(Logits(gguf), Logits(job.output_dir));

  job.target_sparsity = 0.3f;
  EXPECT_THAT(compress::ValidateCompressSpec(job).message(),
              HasSubstr("activation gates are Ghost Serve's alone"));
  job.target_sparsity = 0;
  job.scheme = "codebook4";
  EXPECT_THAT(compress::ValidateCompressSpec(job).message(),
              HasSubstr("scheme codebook4 at block 64 has no ggml type"));
  job.scheme = "ternary";
  job.output_format = "onnx";
  EXPECT_THAT(compress::ValidateCompressSpec(job).message(),
              HasSubstr("unsupported output format \"onnx\""));
}

TEST_F(GgufModelTest, CodebookAndOddBlocksAreRefused) {
  const std::string w64 = ghost::testing::MakeTempDir("gguf-w64");
  ghost::testing::WriteTinyLlama(w64, BlockSpec(64));
  const std::string codebook = Compress(w64, "codebook4", 64);
  absl::Status status = compress::ExportGguf(codebook, codebook + ".gguf");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("GGUF has no type for codebook-2bit at block 64"));
  const std::string b32 = Compress(w64, "ternary", 32);
  status = compress::ExportGguf(b32, b32 + ".gguf");
  EXPECT_THAT(status.message(), HasSubstr("ternary-2bit at block 32"));
}

// llama.cpp's convert permute, written as its reshape: view the rows as [heads, 2, d / 2] and
// swap the last two axes, so GGUF row (h, i, p) is Hugging Face row (h, p, i). Rows of any
// byte width (whole quantized blocks per row).
std::vector<std::uint8_t> ConvertPermute(const std::vector<std::uint8_t>& rows_bytes, int rows,
                                         int heads) {
  const int d = rows / heads;
  const std::size_t width = rows_bytes.size() / rows;
  std::vector<std::uint8_t> out(rows_bytes.size());
  int g = 0;
  for (int h = 0; h < heads; ++h) {
    for (int i = 0; i < d / 2; ++i) {
      for (int p = 0; p < 2; ++p, ++g) {
        const int hf = h * d + p * (d / 2) + i;
        std::memcpy(&out[g * width], &rows_bytes[hf * width], width);
      }
    }
  }
  return out;
}

// Q8_0 (or Q4_0) blocks of `w` by absmax, and the values they decode to.
std::vector<std::uint8_t> QuantizeBlocks(const std::vector<float>& w, bool q4,
                                         std::vector<float>& decoded) {
  std::vector<std::uint8_t> out;
  decoded.assign(w.size(), 0.0f);
  for (std::size_t b = 0; b < w.size() / 32; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(w[b * 32 + j]));
    const float d = ghost::testing::RoundToF16(amax / (q4 ? 8.0f : 127.0f));
    const std::uint16_t bits = compress::F32ToF16(d);
    out.push_back(static_cast<std::uint8_t>(bits));
    out.push_back(static_cast<std::uint8_t>(bits >> 8));
    std::int8_t q[32];
    for (int j = 0; j < 32; ++j) {
      const float x = d == 0 ? 0 : w[b * 32 + j] / d;
      q[j] =
          static_cast<std::int8_t>(std::clamp<float>(std::round(x), q4 ? -8 : -127, q4 ? 7 : 127));
      decoded[b * 32 + j] = d * q[j];
    }
    if (q4) {
      for (int j = 0; j < 16; ++j)
        out.push_back(static_cast<std::uint8_t>((q[j] + 8) | (q[j + 16] + 8) << 4));
    } else {
      for (int j = 0; j < 32; ++j) out.push_back(static_cast<std::uint8_t>(q[j]));
    }
  }
  return out;
}

TEST_F(GgufModelTest, IndependentlyWrittenQ8AndQ4FileMatchesSafetensors) {
  TinyLlamaSpec spec;
  spec.hidden_size = 64;
  spec.intermediate_size = 96;
  spec.head_dim = 16;
  ghost::testing::TensorMap weights;
  std::map<std::string, ghost::testing::TestTensor> tensors =
      ghost::testing::TinyLlamaTensors(spec, &weights);

  GgufWriter writer;
  writer.SetString("general.architecture", "llama");
  writer.SetU32("llama.context_length", spec.context);
  writer.SetU32("llama.embedding_length", spec.hidden_size);
  writer.SetU32("llama.block_count", spec.num_layers);
  writer.SetU32("llama.feed_forward_length", spec.intermediate_size);
  writer.SetU32("llama.attention.head_count", spec.num_heads);
  writer.SetU32("llama.attention.head_count_kv", spec.num_kv_heads);
  writer.SetF32("llama.attention.layer_norm_rms_epsilon", static_cast<float>(spec.rms_norm_eps));
  writer.SetF32("llama.rope.freq_base", static_cast<float>(spec.rope_theta));
  ASSERT_TRUE(
      AddTokenizerMetadata(ghost::testing::ByteLevelTokenizerJson(), 256, 257, writer).ok());

  const auto add_dense = [&](const std::string& gguf, const std::string& hf) {
    const std::vector<float>& w = weights.at(hf);
    std::vector<std::uint8_t> bytes(w.size() * 4);
    std::memcpy(bytes.data(), w.data(), bytes.size());
    const std::vector<std::int64_t>& shape = tensors.at(hf).shape;
    std::vector<std::int64_t> dims(shape.rbegin(), shape.rend());
    ASSERT_TRUE(writer.AddTensor(gguf, 0, dims, std::move(bytes)).ok());
  };
  bool q4 = false;
  const auto add_quant = [&](const std::string& gguf, const std::string& hf, int rope_heads) {
    const std::vector<std::int64_t>& shape = tensors.at(hf).shape;
    const int rows = static_cast<int>(shape[0]), cols = static_cast<int>(shape[1]);
    std::vector<float> decoded;
    std::vector<std::uint8_t> blocks = QuantizeBlocks(weights.at(hf), q4, decoded);
    // The safetensors side holds the decoded values in Hugging Face order.
    tensors[hf] = {"F32", shape, ghost::testing::F32Bytes(decoded)};
    if (rope_heads > 0) blocks = ConvertPermute(blocks, rows, rope_heads);  // whole blocks/row
    ASSERT_TRUE(writer.AddTensor(gguf, q4 ? 2 : 8, {cols, rows}, std::move(blocks)).ok());
    q4 = !q4;  // alternate the two types
  };
  add_dense("token_embd.weight", "model.embed_tokens.weight");
  for (int l = 0; l < spec.num_layers; ++l) {
    const std::string hf = "model.layers." + std::to_string(l) + ".";
    const std::string gg = "blk." + std::to_string(l) + ".";
    add_dense(gg + "attn_norm.weight", hf + "input_layernorm.weight");
    add_dense(gg + "ffn_norm.weight", hf + "post_attention_layernorm.weight");
    add_quant(gg + "attn_q.weight", hf + "self_attn.q_proj.weight", spec.num_heads);
    add_quant(gg + "attn_k.weight", hf + "self_attn.k_proj.weight", spec.num_kv_heads);
    add_quant(gg + "attn_v.weight", hf + "self_attn.v_proj.weight", 0);
    add_quant(gg + "attn_output.weight", hf + "self_attn.o_proj.weight", 0);
    add_quant(gg + "ffn_gate.weight", hf + "mlp.gate_proj.weight", 0);
    add_quant(gg + "ffn_up.weight", hf + "mlp.up_proj.weight", 0);
    add_quant(gg + "ffn_down.weight", hf + "mlp.down_proj.weight", 0);
  }
  add_dense("output_norm.weight", "model.norm.weight");
  add_dense("output.weight", "lm_head.weight");
  const std::string gguf = dir_ + "/q.gguf";
  ASSERT_TRUE(writer.WriteFile(gguf).ok());

  const std::string st = ghost::testing::MakeTempDir("gguf-st");
  ghost::testing::WriteTinyLlama(st, spec);  // config and tokenizer; weights replaced below
  ghost::testing::WriteFile(st + "/model.safetensors", ghost::testing::SafetensorsBytes(tensors));
  const std::vector<float> expected = Logits(st);
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(Logits(gguf), expected);
}

TEST_F(GgufModelTest, UnsupportedFilesFailClearly) {
  GgufWriter writer;
  writer.SetString("general.architecture", "gemma");
  ASSERT_TRUE(writer.WriteFile(dir_ + "/gemma.gguf").ok());
  absl::Status status = Model::Load(dir_ + "/gemma.gguf").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(status.message(), HasSubstr("gemma.gguf: architecture \"gemma\" is not supported"));

  // A projection stored as Q4_K, a type the engine does not read.
  GgufWriter q4k;
  q4k.SetString("general.architecture", "llama");
  for (const char* key : {"llama.context_length", "llama.embedding_length", "llama.block_count",
                          "llama.feed_forward_length", "llama.attention.head_count"}) {
    q4k.SetU32(key, 4);
  }
  q4k.SetF32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  ASSERT_TRUE(AddTokenizerMetadata(ghost::testing::ByteLevelTokenizerJson(), 256, 257, q4k).ok());
  ASSERT_TRUE(
      q4k.AddTensor("blk.0.ffn_up.weight", 12, {256, 1}, std::vector<std::uint8_t>(144)).ok());
  ASSERT_TRUE(q4k.WriteFile(dir_ + "/q4k.gguf").ok());
  status = Model::Load(dir_ + "/q4k.gguf").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(status.message(), HasSubstr("tensor blk.0.ffn_up.weight has type Q4_K"));
}

TEST_F(GgufModelTest, RegistryImportsAndServesAGgufFile) {
  const std::string root = ghost::testing::MakeTempDir("gguf-root");
  const std::string source = ghost::testing::MakeTempDir("gguf-src");
  ghost::testing::WriteTinyLlama(source, TinyLlamaSpec{});
  ASSERT_TRUE(compress::ExportGguf(source, root + "/tiny.gguf").ok());
  ghost::testing::WriteFile(root + "/notes.txt", "not a model");
  RegistryOptions options;
  options.model_roots = {root};
  options.registry_dir = dir_ + "/registry";
  absl::StatusOr<std::unique_ptr<ModelRegistry>> registry = ModelRegistry::Create(options);
  ASSERT_TRUE(registry.ok()) << registry.status();
  absl::StatusOr<ModelInfo> imported =
      (*registry)->Import("g", "tiny.gguf", ModelOrigin::kImported);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->summary.architecture, "LlamaForCausalLM");
  EXPECT_EQ(imported->summary.context_length, 64);
  EXPECT_THAT((*registry)->Import("n", "notes.txt", ModelOrigin::kImported).status().message(),
              HasSubstr("is not a directory or a .gguf file"));
  ASSERT_TRUE((*registry)->Load("g").ok());
  absl::StatusOr<std::shared_ptr<LoadedModel>> ready = (*registry)->GetReady("g");
  ASSERT_TRUE(ready.ok());
  GenerationRequest request;
  request.prompt_tokens = {1, 2};
  request.stopping.max_new_tokens = 3;
  request.stopping.ignore_eos = true;
  absl::Notification done;
  FinishReason reason = FinishReason::kNone;
  ASSERT_TRUE((*ready)
                  ->executor
                  ->Enqueue(request,
                            [&](GenerationChunk chunk) {
                              if (!chunk.is_final()) return;
                              reason = chunk.finish_reason;
                              done.Notify();
                            })
                  .ok());
  done.WaitForNotification();
  EXPECT_EQ(reason, FinishReason::kLength);
}

TEST(GgufRopeOrderTest, MatchesTheConvertPermute) {
  const int rows = 24, heads = 3;
  std::vector<std::uint8_t> w(rows);
  for (int r = 0; r < rows; ++r) w[r] = static_cast<std::uint8_t>(r);
  const std::vector<std::uint8_t> permuted = ConvertPermute(w, rows, heads);
  for (int g = 0; g < rows; ++g) EXPECT_EQ(permuted[g], LlamaRopeRowToHf(g, rows, heads)) << g;
}

}  // namespace
}  // namespace ghost
