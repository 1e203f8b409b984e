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
  EXPECT_THAT(ErrorOf(json), HasSubstr("\"hidden_size\" must be an integer, got \"256\""));

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
  EXPECT_THAT(ErrorOf(json), HasSubstr("unsupported architecture MambaForCausalLM (supported: "
                                       "LlamaForCausalLM)"));

  json = ValidLlama();
  json["hidden_act"] = "gelu";
  EXPECT_THAT(ErrorOf(json), HasSubstr("hidden_act \"gelu\" is not supported (supported: silu)"));

  json = ValidLlama();
  json["rms_norm_eps"] = -1;
  EXPECT_THAT(ErrorOf(json), HasSubstr("\"rms_norm_eps\" must be a positive number"));

  json = ValidLlama();
  json["rope_scaling"] = {{"rope_type", "llama3"}};
  EXPECT_THAT(ErrorOf(json), HasSubstr("rope_scaling is not supported"));

  json = ValidLlama();
  json["attention_bias"] = true;
  EXPECT_THAT(ErrorOf(json), HasSubstr("attention_bias is not supported"));

  EXPECT_THAT(std::string(ParseModelConfig("{", "c.json").status().message()),
              HasSubstr("c.json: invalid JSON"));
  EXPECT_THAT(std::string(ParseModelConfig("[1]", "c.json").status().message()),
              HasSubstr("must be a JSON object"));
  EXPECT_THAT(std::string(ParseModelConfig(R"({"a": 1, "a": 2})", "c.json").status().message()),
              HasSubstr("c.json: duplicate key \"a\""));
}

}  // namespace
}  // namespace ghost
