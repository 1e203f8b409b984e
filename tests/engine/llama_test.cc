#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <utility>

#include "engine/model/evaluate.h"
#include "engine/model/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using ::ghost::testing::TinyLlamaSpec;
using ::testing::HasSubstr;

std::vector<std::int32_t> SomeTokens(int count, int vocab) {
  std::vector<std::int32_t> tokens;
  for (int i = 0; i < count; ++i) tokens.push_back((i * 37 + 11) % vocab);
  return tokens;
}

// max |a - b| relative to the largest |b|.
double RelativeError(const std::vector<float>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double max_diff = 0.0, max_ref = 0.0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    max_diff = std::max(max_diff, std::abs(a[i] - b[i]));
    max_ref = std::max(max_ref, std::abs(b[i]));
  }
  return max_diff / std::max(max_ref, 1e-30);
}

double RelativeError(const std::vector<float>& a, const std::vector<float>& b) {
  return RelativeError(a, std::vector<double>(b.begin(), b.end()));
}

struct LoadedTiny {
  std::shared_ptr<const Model> model;
  ghost::testing::TensorMap weights;
};

LoadedTiny LoadTiny(const TinyLlamaSpec& spec) {
  const std::string dir = ghost::testing::MakeTempDir("llama");
  LoadedTiny loaded;
  loaded.weights = ghost::testing::WriteTinyLlama(dir, spec);
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir);
  EXPECT_TRUE(model.ok()) << model.status();
  if (model.ok()) loaded.model = *model;
  return loaded;
}

class LlamaReferenceTest : public ::testing::TestWithParam<TinyLlamaSpec> {};

TEST_P(LlamaReferenceTest, MatchesNaiveDoubleForward) {
  const TinyLlamaSpec spec = GetParam();
  LoadedTiny tiny = LoadTiny(spec);
  ASSERT_NE(tiny.model, nullptr);
  const std::vector<std::int32_t> tokens = SomeTokens(19, spec.vocab_size);
  std::vector<float> logits;
  // fp32 keys and values: the bound is the fp32 arithmetic's over weights the reference rounds
  // alike (Bf16KvCacheStaysCloseToFp32 covers bf16 caches).
  ASSERT_TRUE(tiny.model->NewSession(KvDtype::kF32)->Forward(tokens, true, logits).ok());
  const std::vector<double> reference =
      ghost::testing::ReferenceLlamaForward(spec, tiny.weights, tokens);
  EXPECT_LT(RelativeError(logits, reference), 1e-4);
  // The logits are not degenerate: positions differ and the distribution is not flat.
  EXPECT_GT(std::abs(logits[0] - logits[spec.vocab_size]), 1e-3);
}

TinyLlamaSpec Spec(std::string dtype, int heads, int kv_heads, bool tied) {
  TinyLlamaSpec spec;
  spec.dtype = std::move(dtype);
  spec.num_heads = heads;
  spec.num_kv_heads = kv_heads;
  spec.tie_word_embeddings = tied;
  spec.seed = heads * 10 + kv_heads + (tied ? 100 : 0);
  return spec;
}

INSTANTIATE_TEST_SUITE_P(Variants, LlamaReferenceTest,
                         ::testing::Values(Spec("F32", 4, 2, false), Spec("F32", 4, 4, false),
                                           Spec("F32", 4, 1, true), Spec("BF16", 4, 2, false),
                                           Spec("F16", 4, 2, true)));

TEST(LlamaTest, KvCacheMatchesFullPrefill) {
  const TinyLlamaSpec spec;
  LoadedTiny tiny = LoadTiny(spec);
  ASSERT_NE(tiny.model, nullptr);
  const std::vector<std::int32_t> tokens = SomeTokens(24, spec.vocab_size);

  std::vector<float> full;
  std::unique_ptr<ModelSession> whole = tiny.model->NewSession();
  ASSERT_TRUE(whole->Forward(tokens, false, full).ok());
  ASSERT_EQ(full.size(), static_cast<size_t>(spec.vocab_size));
  EXPECT_EQ(whole->num_tokens(), 24);

  // T-1 prefill + 1 decode step.
  std::unique_ptr<ModelSession> split = tiny.model->NewSession();
  std::vector<float> logits;
  ASSERT_TRUE(split->Forward(absl::MakeConstSpan(tokens).first(23), false, logits).ok());
  ASSERT_TRUE(split->Forward(absl::MakeConstSpan(tokens).subspan(23), false, logits).ok());
  EXPECT_LT(RelativeError(logits, full), 1e-5);

  // Uneven chunks, with all logits, agree with the all-logits prefill row by row.
  std::vector<float> all;
  ASSERT_TRUE(tiny.model->NewSession()->Forward(tokens, true, all).ok());
  std::unique_ptr<ModelSession> chunked = tiny.model->NewSession();
  std::vector<float> rows;
  size_t start = 0;
  for (size_t size : {5u, 1u, 9u, 1u, 8u}) {
    ASSERT_TRUE(
        chunked->Forward(absl::MakeConstSpan(tokens).subspan(start, size), true, logits).ok());
    rows.insert(rows.end(), logits.begin(), logits.end());
    start += size;
  }
  EXPECT_LT(RelativeError(rows, all), 1e-5);
}

// Issue 16: a loaded model's weights are copied out of its files, so replacing or truncating
// them (what `cp` over a model does) changes nothing for the loaded model. With weights served
// from the mapping, the truncated pages made the next forward die of SIGBUS.
TEST(LlamaTest, TruncatingALoadedModelsFilesChangesNothing) {
  for (const char* dtype : {"F32", "BF16"}) {
    SCOPED_TRACE(dtype);
    TinyLlamaSpec spec;
    spec.dtype = dtype;
    const std::string dir = ghost::testing::MakeTempDir("truncated");
    ghost::testing::WriteTinyLlama(dir, spec);
    absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir);
    ASSERT_TRUE(model.ok()) << model.status();
    const std::vector<std::int32_t> tokens = SomeTokens(12, spec.vocab_size);
    std::vector<float> before;
    ASSERT_TRUE((*model)->NewSession()->Forward(tokens, true, before).ok());

    std::filesystem::resize_file(dir + "/model.safetensors", 0);
    std::vector<float> after;
    ASSERT_TRUE((*model)->NewSession()->Forward(tokens, true, after).ok());
    EXPECT_EQ(after, before);
  }
}

// The default KV dtype follows the weights: fp32 for fp32 models, bf16 otherwise.
TEST(LlamaTest, DefaultKvDtypeFollowsTheWeights) {
  for (const auto& [dtype, kv_dtype] :
       {std::pair{"F32", KvDtype::kF32}, std::pair{"BF16", KvDtype::kBf16},
        std::pair{"F16", KvDtype::kBf16}}) {
    TinyLlamaSpec spec;
    spec.dtype = dtype;
    LoadedTiny tiny = LoadTiny(spec);
    ASSERT_NE(tiny.model, nullptr);
    EXPECT_EQ(tiny.model->default_kv_dtype(), kv_dtype) << dtype;
  }
}

// A bf16 KV cache against an fp32 one on the same fp32 model, the prompt in one step and then
// token by token over 60 positions (four blocks): bf16 keys and values carry 8 bits of
// mantissa, so the logits move by up to ~2^-9 of their scale, not 1e-5.
TEST(LlamaTest, Bf16KvCacheStaysCloseToFp32) {
  const TinyLlamaSpec spec;
  LoadedTiny tiny = LoadTiny(spec);
  ASSERT_NE(tiny.model, nullptr);
  const std::vector<std::int32_t> tokens = SomeTokens(60, spec.vocab_size);
  std::unique_ptr<ModelSession> f32 = tiny.model->NewSession(KvDtype::kF32);
  std::unique_ptr<ModelSession> bf16 = tiny.model->NewSession(KvDtype::kBf16);
  std::vector<float> f32_logits, bf16_logits;
  const auto prompt = absl::MakeConstSpan(tokens).first(21);
  ASSERT_TRUE(f32->Forward(prompt, true, f32_logits).ok());
  ASSERT_TRUE(bf16->Forward(prompt, true, bf16_logits).ok());
  double worst = RelativeError(bf16_logits, f32_logits);
  for (std::size_t t = prompt.size(); t < tokens.size(); ++t) {
    ASSERT_TRUE(f32->Forward({&tokens[t], 1}, false, f32_logits).ok());
    ASSERT_TRUE(bf16->Forward({&tokens[t], 1}, false, bf16_logits).ok());
    worst = std::max(worst, RelativeError(bf16_logits, f32_logits));
  }
  std::printf("bf16 vs fp32 KV cache: max relative logit error %.3g\n", worst);
  EXPECT_LT(worst, 1e-2);
  EXPECT_GT(worst, 0.0);  // the bf16 cache was used
}

TEST(LlamaTest, ForwardRejectsOverflowAndBadTokens) {
  TinyLlamaSpec spec;
  spec.context = 16;
  LoadedTiny tiny = LoadTiny(spec);
  ASSERT_NE(tiny.model, nullptr);
  std::unique_ptr<ModelSession> session = tiny.model->NewSession();
  std::vector<float> logits;
  ASSERT_TRUE(session->Forward(SomeTokens(16, spec.vocab_size), false, logits).ok());
  const absl::Status overflow = session->Forward({1}, false, logits);
  EXPECT_EQ(overflow.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(overflow.message()), HasSubstr("exceeds the model's context of 16"));
  const absl::Status bad = tiny.model->NewSession()->Forward({259}, false, logits);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("token id 259 out of range [0, 259)"));
}

TEST(LlamaTest, SummaryAndDefaults) {
  TinyLlamaSpec spec;
  spec.dtype = "BF16";
  const std::string dir = ghost::testing::MakeTempDir("summary");
  ghost::testing::WriteTinyLlama(dir, spec);
  ghost::testing::WriteFile(dir + "/generation_config.json",
                            R"({"temperature": 0.7, "top_k": 20, "do_sample": true,
                                "eos_token_id": [257, 258]})");
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir);
  ASSERT_TRUE(model.ok()) << model.status();
  const ModelSummary& s = (*model)->summary();
  EXPECT_EQ(s.architecture, "LlamaForCausalLM");
  EXPECT_EQ(s.dtype, "bf16");
  EXPECT_EQ(s.tokenizer, "byte-level");
  EXPECT_EQ(s.context_length, 64);
  EXPECT_EQ(s.vocab_size, 259);
  const std::int64_t h = 32, layer = h * 2 + 32 * h + 16 * h * 2 + h * 32 + 3 * 48 * h;
  const std::int64_t expected = 259 * h * 2 + 2 * layer + h;
  EXPECT_EQ(s.parameters, expected);
  // Matrices stay bf16 (2 bytes); norm vectors are widened to fp32.
  EXPECT_EQ(s.weight_bytes, (expected - 5 * h) * 2 + 5 * h * 4);
  const GenerationDefaults& d = (*model)->generation_defaults();
  EXPECT_FLOAT_EQ(*d.temperature, 0.7f);
  EXPECT_EQ(*d.top_k, 20);
  EXPECT_TRUE(*d.do_sample);
  EXPECT_FALSE(d.top_p.has_value());
  EXPECT_EQ((*model)->config().eos_token_ids, (std::vector<std::int32_t>{257, 258}));
}

// An F16 checkpoint is served from its fp16 weights (half the bytes of f32) and gives the
// logits of the same weights widened to fp32, prefill and decode alike.
TEST(LlamaTest, F16CheckpointMatchesItsF32Widening) {
  TinyLlamaSpec spec;
  spec.dtype = "F16";
  spec.hidden_size = 48;  // Rows and columns that are not multiples of the vector width.
  spec.intermediate_size = 67;
  spec.seed = 7;
  const std::string f16_dir = ghost::testing::MakeTempDir("f16");
  ghost::testing::WriteTinyLlama(f16_dir, spec);
  // The same values as F32 tensors: config and tokenizer from a F32 spec, then its
  // safetensors replaced.
  ghost::testing::TensorMap widened;
  std::map<std::string, ghost::testing::TestTensor> tensors =
      ghost::testing::TinyLlamaTensors(spec, &widened);
  for (auto& [name, tensor] : tensors) {
    tensor.dtype = "F32";
    tensor.bytes = ghost::testing::F32Bytes(widened.at(name));
  }
  TinyLlamaSpec f32_spec = spec;
  f32_spec.dtype = "F32";
  const std::string f32_dir = ghost::testing::MakeTempDir("f16widened");
  ghost::testing::WriteTinyLlama(f32_dir, f32_spec);
  ghost::testing::WriteFile(f32_dir + "/model.safetensors",
                            ghost::testing::SafetensorsBytes(tensors, {{"format", "pt"}}));

  absl::StatusOr<std::shared_ptr<const Model>> f16 = Model::Load(f16_dir);
  absl::StatusOr<std::shared_ptr<const Model>> f32 = Model::Load(f32_dir);
  ASSERT_TRUE(f16.ok()) << f16.status();
  ASSERT_TRUE(f32.ok()) << f32.status();
  EXPECT_EQ((*f16)->summary().dtype, "f16");
  EXPECT_EQ((*f16)->summary().parameters, (*f32)->summary().parameters);
  // Matrices stay fp16 (2 bytes); the 2 * layers + 1 norm vectors are widened to fp32.
  const std::int64_t norms = (2 * spec.num_layers + 1) * spec.hidden_size;
  const std::int64_t matrices = (*f16)->summary().parameters - norms;
  EXPECT_EQ((*f16)->summary().weight_bytes, matrices * 2 + norms * 4);
  EXPECT_EQ((*f32)->summary().weight_bytes, (matrices + norms) * 4);

  const std::vector<std::int32_t> tokens = SomeTokens(21, spec.vocab_size);
  // One KV dtype for both: only the weights' format differs.
  std::unique_ptr<ModelSession> f16_session = (*f16)->NewSession(KvDtype::kF32);
  std::unique_ptr<ModelSession> f32_session = (*f32)->NewSession(KvDtype::kF32);
  std::vector<float> f16_logits, f32_logits;
  const auto prompt = absl::MakeConstSpan(tokens).first(13);
  ASSERT_TRUE(f16_session->Forward(prompt, true, f16_logits).ok());
  ASSERT_TRUE(f32_session->Forward(prompt, true, f32_logits).ok());
  // The same fp32 values, summed in another order by another kernel.
  EXPECT_LT(RelativeError(f16_logits, f32_logits), 1e-5);
  for (std::size_t t = 13; t < tokens.size(); ++t) {  // Decode one token at a time.
    ASSERT_TRUE(f16_session->Forward({&tokens[t], 1}, false, f16_logits).ok());
    ASSERT_TRUE(f32_session->Forward({&tokens[t], 1}, false, f32_logits).ok());
    EXPECT_LT(RelativeError(f16_logits, f32_logits), 1e-5) << "token " << t;
  }
}

TEST(LlamaTest, LoadErrorsNameTheProblem) {
  const TinyLlamaSpec spec;
  const std::string dir = ghost::testing::MakeTempDir("broken");
  ghost::testing::WriteTinyLlama(dir, spec);
  ghost::testing::TensorMap weights;
  std::map<std::string, ghost::testing::TestTensor> tensors =
      ghost::testing::TinyLlamaTensors(spec, &weights);
  const std::string name = "model.layers.1.mlp.up_proj.weight";
  const ghost::testing::TestTensor up = tensors.at(name);

  tensors.erase(name);
  ghost::testing::WriteFile(dir + "/model.safetensors", ghost::testing::SafetensorsBytes(tensors));
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir);
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(std::string(model.status().message()),
              HasSubstr("model.safetensors: missing tensor model.layers.1.mlp.up_proj.weight"));

  // Wrong shape.
  tensors[name] = {"F32", {32, 48}, up.bytes};
  ghost::testing::WriteFile(dir + "/model.safetensors", ghost::testing::SafetensorsBytes(tensors));
  model = Model::Load(dir);
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(std::string(model.status().message()),
              HasSubstr("tensor model.layers.1.mlp.up_proj.weight has shape [32, 48], expected "
                        "[48, 32]"));

  // Missing and broken files.
  EXPECT_EQ(Model::Load(dir + "/nope").status().code(), absl::StatusCode::kNotFound);
  ghost::testing::WriteFile(dir + "/generation_config.json", R"({"top_k": "many"})");
  tensors[name] = up;
  ghost::testing::WriteFile(dir + "/model.safetensors", ghost::testing::SafetensorsBytes(tensors));
  model = Model::Load(dir);
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(std::string(model.status().message()),
              HasSubstr("generation_config.json: \"top_k\" must be an integer"));
}

// A default no request could send (issue 16: temperature -5 loaded READY, then every Generate
// without a temperature failed about a value its client never sent) fails the load, naming
// the key, the allowed values and what the file says.
TEST(LlamaTest, GenerationDefaultsOutsideRequestRangesFailTheLoad) {
  const std::string dir = ghost::testing::MakeTempDir("generation-config");
  ghost::testing::WriteTinyLlama(dir, TinyLlamaSpec());
  const struct {
    const char* json;
    const char* error;
  } cases[] = {
      {R"({"temperature": -5})", "\"temperature\" must be a finite number >= 0, got -5"},
      {R"({"top_p": 7})", "\"top_p\" must be a number in (0, 1], got 7"},
      {R"({"top_p": 0})", "\"top_p\" must be a number in (0, 1], got 0"},
      {R"({"min_p": 1.5})", "\"min_p\" must be a number in [0, 1], got 1.5"},
      {R"({"repetition_penalty": 0})", "\"repetition_penalty\" must be a finite number > 0"},
      {R"({"top_k": -1})", "\"top_k\" must be an integer in [0, 2^31)"},
      {R"({"top_k": 4294967296})", "\"top_k\" must be an integer in [0, 2^31)"},
      {R"({"max_new_tokens": 0})", "\"max_new_tokens\" must be an integer in [1, 2^31)"},
      {R"({"eos_token_id": 4294967296})", "\"eos_token_id\" must be a token id"},
  };
  for (const auto& [json, error] : cases) {
    ghost::testing::WriteFile(dir + "/generation_config.json", json);
    const absl::Status status = Model::Load(dir).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_THAT(std::string(status.message()), HasSubstr("generation_config.json: "));
    EXPECT_THAT(std::string(status.message()), HasSubstr(error)) << json;
  }
  // The edges themselves are fine.
  ghost::testing::WriteFile(
      dir + "/generation_config.json",
      R"({"temperature": 0, "top_p": 1, "min_p": 0, "top_k": 0, "max_new_tokens": 1})");
  EXPECT_TRUE(Model::Load(dir).ok());
}

TEST(EvaluateTest, BitsPerByteMatchesTheDefinition) {
  TinyLlamaSpec spec;
  spec.context = 16;
  LoadedTiny tiny = LoadTiny(spec);
  ASSERT_NE(tiny.model, nullptr);
  const std::string text = "The quick brown fox jumps over the lazy dog. \xC3\xA9!";  // 48 bytes
  const int window = 10;
  double bits = 0.0;
  std::int64_t targets = 0;
  for (size_t start = 0; start < text.size(); start += window) {
    std::vector<std::int32_t> ids;
    for (size_t i = start; i < std::min(text.size(), start + window); ++i) {
      ids.push_back(static_cast<unsigned char>(text[i]));
    }
    const std::vector<double> logits =
        ghost::testing::ReferenceLlamaForward(spec, tiny.weights, ids);
    for (size_t t = 0; t + 1 < ids.size(); ++t) {
      const double* row = &logits[t * spec.vocab_size];
      double sum = 0.0;
      for (int v = 0; v < spec.vocab_size; ++v) sum += std::exp(row[v]);
      bits -= std::log2(std::exp(row[ids[t + 1]]) / sum);
      ++targets;
    }
  }
  absl::StatusOr<EvalResult> result = EvaluateBitsPerByte(*tiny.model, text, window);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->bytes_predicted, targets);
  EXPECT_EQ(targets, 48 - 5);
  EXPECT_NEAR(result->bits_per_byte, bits / targets, 1e-5 * bits / targets);

  EXPECT_EQ(EvaluateBitsPerByte(*tiny.model, text, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EvaluateBitsPerByte(*tiny.model, text, 17).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EvaluateBitsPerByte(*tiny.model, "a", 8).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ghost
