#include "engine/model/config.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ghost {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

Json ValidLlama() {
  return Json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 256, "intermediate_size": 1024, "num_hidden_layers": 6,
    "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 32,
    "vocab_size": 259, "max_position_embeddings": 512, "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": false,
    "torch_dtype": "bfloat16", "bos_token_id": 256, "eos_token_id": 257,
    "rope_scaling": null, "attention_bias": false, "mlp_bias": false})");
}

absl::StatusOr<ModelConfig> Parse(const Json& json) {
  return ParseModelConfig(json.dump(), "m/config.json");
}

std::string ErrorOf(const Json& json) {
  absl::StatusOr<ModelConfig> config = Parse(json);
  EXPECT_FALSE(config.ok());
  return config.ok() ? "" : std::string(config.status().message());
}

TEST(ConfigTest, ParsesLlamaConfig) {
  absl::StatusOr<ModelConfig> config = Parse(ValidLlama());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->architecture, "LlamaForCausalLM");
  EXPECT_EQ(config->model_type, "llama");
  EXPECT_EQ(config->hidden_size, 256);
  EXPECT_EQ(config->intermediate_size, 1024);
  EXPECT_EQ(config->num_hidden_layers, 6);
  EXPECT_EQ(config->num_attention_heads, 8);
  EXPECT_EQ(config->num_key_value_heads, 2);
  EXPECT_EQ(config->head_dim, 32);
  EXPECT_EQ(config->vocab_size, 259);
  EXPECT_EQ(config->max_position_embeddings, 512);
  EXPECT_DOUBLE_EQ(config->rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(config->rope_theta, 10000.0);
  EXPECT_FALSE(config->tie_word_embeddings);
  EXPECT_EQ(config->torch_dtype, "bfloat16");
  EXPECT_EQ(config->bos_token_id, 256);
  EXPECT_EQ(config->eos_token_ids, std::vector<std::int32_t>{257});
  EXPECT_EQ(ShortDtypeName(config->torch_dtype), "bf16");
}

TEST(ConfigTest, DefaultsForOptionalKeys) {
  Json json = ValidLlama();
  for (const char* key : {"num_key_value_heads", "head_dim", "rope_theta", "torch_dtype",
                          "tie_word_embeddings", "hidden_act", "bos_token_id", "eos_token_id"}) {
    json.erase(key);
  }
  absl::StatusOr<ModelConfig> config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->num_key_value_heads, 8);
  EXPECT_EQ(config->head_dim, 32);
  EXPECT_DOUBLE_EQ(config->rope_theta, 10000.0);
  EXPECT_EQ(config->torch_dtype, "");
  EXPECT_FALSE(config->bos_token_id.has_value());
  EXPECT_TRUE(config->eos_token_ids.empty());
}

TEST(ConfigTest, EosAsList) {
  Json json = ValidLlama();
  json["eos_token_id"] = {257, 258};
  absl::StatusOr<ModelConfig> config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->eos_token_ids, (std::vector<std::int32_t>{257, 258}));
  json["eos_token_id"] = {257, "x"};
  EXPECT_THAT(ErrorOf(json), HasSubstr("\"eos_token_id\" must be a token id or a list"));
}

TEST(ConfigTest, DtypeKeyWinsOverTorchDtype) {
  Json json = ValidLlama();
  json["dtype"] = "float32";
  absl::StatusOr<ModelConfig> config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->torch_dtype, "float32");
  json.erase("torch_dtype");
  config = Parse(json);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->torch_dtype, "float32");
}

TEST(ConfigTest, InvalidCasesHaveTheirOwnMessages) {
  Json json = ValidLlama();
  json.erase("hidden_size");
  EXPECT_THAT(ErrorOf(json), HasSubstr("m/config.json: missing key \"hidden_size\""));

  json = ValidLlama();
  json.erase("architectures");
  EXPECT_THAT(ErrorOf(json), HasSubstr("missing key \"architectures\""));

  json = ValidLlama();
  json["num_hidden_layers"] = 0;
  EXPECT_THAT(ErrorOf(json), HasSubstr("\"num_hidden_layers\" is 0, must be in [1, 1048576]"));

  json = ValidLlama();
  json["intermediate_size"] = (1 << 20) + 1;
  EXPECT_THAT(ErrorOf(json), HasSubstr("\"intermediate_size\" is 1048577"));

  json = ValidLlama();
  json["hidden_size"] = "256";
  EXPECT_THAT(ErrorOf(json),
              HasSubstr("\"hidden_size\" must be an integer, got a string of 3 bytes"));

  json = ValidLlama();
  json.erase("head_dim");
  json["num_attention_heads"] = 7;
  json["num_key_value_heads"] = 7;
  EXPECT_THAT(ErrorOf(json), HasSubstr("num_attention_heads (7) does not divide hidden_size"));

  json = ValidLlama();
  json["num_key_value_heads"] = 3;
  EXPECT_THAT(ErrorOf(json), HasSubstr("num_key_value_heads (3) does not divide"));

  json = ValidLlama();
  json["architectures"] = {"MambaForCausalLM"};
  const absl::StatusOr<ModelConfig> unsupported = Parse(json);
  EXPECT_EQ(unsupported.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(ErrorOf(json), HasSubstr("m/config.json: unsupported architecture "
                                       "MambaForCausalLM (supported: LlamaForCausalLM, "
                                       "Qwen2ForCausalLM, MistralForCausalLM)"));

  json = ValidLlama();
  json["hidden_act"] = "gelu";
  EXPECT_THAT(ErrorOf(json), HasSubstr("hidden_act \"gelu\" is not supported (supported: silu)"));

  json = ValidLlama();
  json["rms_norm_eps"] = -1;
  EXPECT_THAT(ErrorOf(json), HasSubstr("\"rms_norm_eps\" must be a positive number"));

  json = ValidLlama();
  json["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_EQ(Parse(json).status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(ErrorOf(json), HasSubstr("m/config.json: rope type \"yarn\" is not supported "
                                       "(supported: default, linear, llama3)"));

  json = ValidLlama();
  json["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  EXPECT_THAT(ErrorOf(json), HasSubstr("missing key \"rope_scaling.low_freq_factor\""));

  json = ValidLlama();
  json["rope_scaling"] = {{"type", "linear"}, {"factor", -2}};
  EXPECT_THAT(ErrorOf(json), HasSubstr("\"rope_scaling.factor\" must be a positive number"));

  json = ValidLlama();
  json["mlp_bias"] = true;
  EXPECT_THAT(ErrorOf(json), HasSubstr("mlp_bias is not supported"));

  EXPECT_THAT(std::string(ParseModelConfig("{", "c.json").status().message()),
              HasSubstr("c.json: invalid JSON"));
  EXPECT_THAT(std::string(ParseModelConfig("[1]", "c.json").status().message()),
              HasSubstr("must be a JSON object"));
  EXPECT_THAT(std::string(ParseModelConfig(R"({"a": 1, "a": 2})", "c.json").status().message()),
              HasSubstr("c.json: duplicate key \"a\""));
}

TEST(ConfigTest, RopeScalingLayouts) {
  Json json = ValidLlama();
  json["rope_theta"] = 500000.0;
  json["rope_scaling"] = Json::parse(R"({"factor": 32.0, "high_freq_factor": 4.0,
      "low_freq_factor": 1.0, "original_max_position_embeddings": 8192, "rope_type": "llama3"})");
  absl::StatusOr<ModelConfig> config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_DOUBLE_EQ(config->rope_theta, 500000.0);
  EXPECT_EQ(config->rope_scaling.type, RopeScaling::Type::kLlama3);
  EXPECT_DOUBLE_EQ(config->rope_scaling.factor, 32.0);
  EXPECT_DOUBLE_EQ(config->rope_scaling.low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(config->rope_scaling.high_freq_factor, 4.0);
  EXPECT_EQ(config->rope_scaling.original_max_position_embeddings, 8192);

  // transformers 5: rope_parameters holds the theta and the scaling keys.
  json = ValidLlama();
  json.erase("rope_theta");
  json.erase("rope_scaling");
  json["rope_parameters"] = {{"rope_type", "linear"}, {"factor", 2.0}, {"rope_theta", 50000.0}};
  config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_DOUBLE_EQ(config->rope_theta, 50000.0);
  EXPECT_EQ(config->rope_scaling.type, RopeScaling::Type::kLinear);
  EXPECT_DOUBLE_EQ(config->rope_scaling.factor, 2.0);

  json["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1000000.0}};
  config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_DOUBLE_EQ(config->rope_theta, 1000000.0);
  EXPECT_EQ(config->rope_scaling.type, RopeScaling::Type::kNone);

  json["rope_parameters"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
  EXPECT_THAT(ErrorOf(json), HasSubstr("rope type \"dynamic\" is not supported"));
  json["rope_parameters"] = "llama3";
  EXPECT_THAT(ErrorOf(json), HasSubstr("\"rope_parameters\" must be an object"));
}

// Configs laid out like the published ones of each family (the keys that matter to us).
TEST(ConfigTest, FamiliesParse) {
  // SmolLM2-135M: Llama layout, tied embeddings, no head_dim, extra nanotron keys.
  const std::string kSmolLm2 = R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 576,
    "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
    "num_key_value_heads": 3, "vocab_size": 49152, "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-05, "rope_theta": 100000, "rope_scaling": null, "hidden_act": "silu",
    "tie_word_embeddings": true, "torch_dtype": "bfloat16", "bos_token_id": 0,
    "eos_token_id": 0, "is_llama_config": true, "rope_interleaved": false,
    "pretraining_tp": 1, "attention_bias": false, "mlp_bias": false})";
  absl::StatusOr<ModelConfig> config = ParseModelConfig(kSmolLm2, "smollm/config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->head_dim, 64);
  EXPECT_TRUE(config->tie_word_embeddings);

  // TinyLlama-1.1B: Llama 2 layout, GQA 32/4.
  const std::string kTinyLlama = R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048,
    "intermediate_size": 5632, "num_hidden_layers": 22, "num_attention_heads": 32,
    "num_key_value_heads": 4, "vocab_size": 32000, "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-05, "rope_scaling": null, "hidden_act": "silu", "pretraining_tp": 1,
    "tie_word_embeddings": false, "torch_dtype": "float32", "bos_token_id": 1,
    "eos_token_id": 2})";
  config = ParseModelConfig(kTinyLlama, "tinyllama/config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->head_dim, 64);
  EXPECT_DOUBLE_EQ(config->rope_theta, 10000.0);

  // Qwen2.5-0.5B: q/k/v biases implied by the architecture; sliding window off.
  const std::string kQwen25 = R"({
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896,
    "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
    "num_key_value_heads": 2, "vocab_size": 151936, "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "hidden_act": "silu",
    "sliding_window": 32768, "use_sliding_window": false, "max_window_layers": 21,
    "tie_word_embeddings": true, "torch_dtype": "bfloat16", "bos_token_id": 151643,
    "eos_token_id": 151643})";
  config = ParseModelConfig(kQwen25, "qwen/config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->qkv_bias);
  EXPECT_FALSE(config->output_bias);
  EXPECT_EQ(config->sliding_window, 0);
  EXPECT_EQ(config->head_dim, 64);

  // Mistral-7B-v0.1: a 4096-token window; v0.2+ write null.
  const std::string mistral = R"({
    "architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 4096,
    "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 8, "vocab_size": 32000, "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "hidden_act": "silu",
    "sliding_window": WINDOW, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "bos_token_id": 1, "eos_token_id": 2})";
  const auto with_window = [&](const std::string& window) {
    std::string text = mistral;
    text.replace(text.find("WINDOW"), 6, window);
    return ParseModelConfig(text, "mistral/config.json");
  };
  config = with_window("4096");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->sliding_window, 4096);
  EXPECT_FALSE(config->qkv_bias);
  config = with_window("null");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->sliding_window, 0);
  EXPECT_THAT(std::string(with_window("-1").status().message()),
              HasSubstr("\"sliding_window\" is -1"));

  // Llama with attention_bias has biases on all four projections.
  Json json = ValidLlama();
  json["attention_bias"] = true;
  config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->qkv_bias);
  EXPECT_TRUE(config->output_bias);

  json = ValidLlama();
  json["architectures"] = {"Qwen2ForCausalLM"};
  json["use_sliding_window"] = true;
  EXPECT_THAT(ErrorOf(json), HasSubstr("use_sliding_window is not supported"));
}

}  // namespace
}  // namespace ghost
