// Sharded checkpoints (model.safetensors.index.json): loading, and the index entries that must
// be refused.
#include "engine/checkpoint/checkpoint.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "engine/model/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using ::ghost::testing::TestTensor;
using ::ghost::testing::TinyLlamaSpec;
using ::testing::HasSubstr;
using Tensors = std::map<std::string, TestTensor>;

constexpr char kShard1[] = "model-00001-of-00002.safetensors";
constexpr char kShard2[] = "model-00002-of-00002.safetensors";

// A tiny Llama directory whose weights are split over two shards (layer 1 in the second).
struct ShardedModel {
  std::string dir;
  Tensors tensors;
  nlohmann::json weight_map;

  void WriteIndex() const {
    ghost::testing::WriteFile(
        dir + "/model.safetensors.index.json",
        nlohmann::json{{"metadata", {{"total_size", 1}}}, {"weight_map", weight_map}}.dump());
  }
  void WriteShards(const Tensors& first, const Tensors& second) const {
    ghost::testing::WriteFile(dir + "/" + kShard1, ghost::testing::SafetensorsBytes(first));
    ghost::testing::WriteFile(dir + "/" + kShard2, ghost::testing::SafetensorsBytes(second));
  }
};

ShardedModel MakeSharded(const TinyLlamaSpec& spec) {
  ShardedModel model;
  model.dir = ghost::testing::MakeTempDir("sharded");
  ghost::testing::WriteTinyLlama(model.dir, spec);
  std::remove((model.dir + "/model.safetensors").c_str());
  ghost::testing::TensorMap weights;
  model.tensors = ghost::testing::TinyLlamaTensors(spec, &weights);
  Tensors first, second;
  for (const auto& [name, tensor] : model.tensors) {
    const bool in_second = name.rfind("model.layers.1.", 0) == 0 || name == "lm_head.weight";
    (in_second ? second : first)[name] = tensor;
    model.weight_map[name] = in_second ? kShard2 : kShard1;
  }
  model.WriteShards(first, second);
  model.WriteIndex();
  return model;
}

std::string LoadError(const std::string& dir, absl::StatusCode code) {
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir);
  EXPECT_FALSE(model.ok());
  if (model.ok()) return "";
  EXPECT_EQ(model.status().code(), code) << model.status();
  return std::string(model.status().message());
}

TEST(CheckpointTest, ShardedLoadsTheSameLogitsAsOneFile) {
  const TinyLlamaSpec spec;
  const ShardedModel sharded = MakeSharded(spec);
  absl::StatusOr<std::unique_ptr<SafetensorsCheckpoint>> checkpoint =
      SafetensorsCheckpoint::Open(sharded.dir);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ((*checkpoint)->num_files(), 2u);
  EXPECT_THAT((*checkpoint)->FileOf("model.layers.1.mlp.up_proj.weight"), HasSubstr(kShard2));
  EXPECT_THAT((*checkpoint)->FileOf("model.layers.0.mlp.up_proj.weight"), HasSubstr(kShard1));
  EXPECT_EQ((*checkpoint)->Find("nope"), nullptr);

  const std::string single = ghost::testing::MakeTempDir("single");
  ghost::testing::WriteTinyLlama(single, spec);
  absl::StatusOr<std::shared_ptr<const Model>> a = Model::Load(sharded.dir);
  absl::StatusOr<std::shared_ptr<const Model>> b = Model::Load(single);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  const std::vector<std::int32_t> tokens = {1, 2, 3, 200, 17};
  std::vector<float> logits_a, logits_b;
  ASSERT_TRUE((*a)->NewSession()->Forward(tokens, true, logits_a).ok());
  ASSERT_TRUE((*b)->NewSession()->Forward(tokens, true, logits_b).ok());
  EXPECT_EQ(logits_a, logits_b);
  EXPECT_EQ((*a)->summary().parameters, (*b)->summary().parameters);
}

TEST(CheckpointTest, ShardNamesMustStayInTheDirectory) {
  const TinyLlamaSpec spec;
  ShardedModel model = MakeSharded(spec);
  const std::string outside = ghost::testing::MakeTempDir("outside");
  ghost::testing::WriteFile(outside + "/x.safetensors", ghost::testing::SafetensorsBytes({}));
  ASSERT_EQ(
      ::symlink((outside + "/x.safetensors").c_str(), (model.dir + "/link.safetensors").c_str()),
      0);
  for (const std::string& bad :
       {std::string("../x.safetensors"), outside + "/x.safetensors",
        std::string("sub/x.safetensors"), std::string(".."), std::string("link.safetensors")}) {
    nlohmann::json weight_map = model.weight_map;
    model.weight_map["model.norm.weight"] = bad;
    model.WriteIndex();
    const std::string error = LoadError(model.dir, absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(error, HasSubstr("model.safetensors.index.json: weight_map entry "
                                 "\"model.norm.weight\": shard \"" +
                                 bad + "\""));
    model.weight_map = weight_map;
  }
}

TEST(CheckpointTest, MissingShardAndMisplacedTensors) {
  const TinyLlamaSpec spec;
  ShardedModel model = MakeSharded(spec);
  std::remove((model.dir + "/" + kShard2).c_str());
  EXPECT_THAT(LoadError(model.dir, absl::StatusCode::kNotFound),
              HasSubstr("model.safetensors.index.json: shard " + std::string(kShard2)));

  // The index sends a tensor to a shard that does not hold it.
  model = MakeSharded(spec);
  model.weight_map["model.norm.weight"] = kShard2;
  model.WriteIndex();
  EXPECT_THAT(LoadError(model.dir, absl::StatusCode::kInvalidArgument),
              HasSubstr("tensor model.norm.weight is mapped to " + std::string(kShard2) +
                        ", which does not contain it"));

  // A tensor the model needs that the index does not list.
  model = MakeSharded(spec);
  model.weight_map.erase("model.layers.1.self_attn.k_proj.weight");
  model.WriteIndex();
  EXPECT_THAT(LoadError(model.dir, absl::StatusCode::kInvalidArgument),
              HasSubstr("model.safetensors.index.json: missing tensor "
                        "model.layers.1.self_attn.k_proj.weight (layer 1 of LlamaForCausalLM)"));

  // A malformed index.
  ghost::testing::WriteFile(model.dir + "/model.safetensors.index.json", R"({"weight_map": []})");
  EXPECT_THAT(LoadError(model.dir, absl::StatusCode::kInvalidArgument),
              HasSubstr("\"weight_map\" must be a non-empty object"));

  // Neither layout.
  std::remove((model.dir + "/model.safetensors.index.json").c_str());
  EXPECT_THAT(LoadError(model.dir, absl::StatusCode::kNotFound),
              HasSubstr("neither model.safetensors nor model.safetensors.index.json"));
}

TEST(CheckpointTest, ShapeErrorsNameTheShard) {
  const TinyLlamaSpec spec;
  ShardedModel model = MakeSharded(spec);
  Tensors first, second;
  for (const auto& [name, tensor] : model.tensors) {
    (model.weight_map[name] == kShard2 ? second : first)[name] = tensor;
  }
  TestTensor& up = second.at("model.layers.1.mlp.up_proj.weight");
  up.shape = {up.shape[1], up.shape[0]};
  model.WriteShards(first, second);
  EXPECT_THAT(LoadError(model.dir, absl::StatusCode::kInvalidArgument),
              HasSubstr(std::string(kShard2) + ": tensor model.layers.1.mlp.up_proj.weight has "
                                               "shape [32, 48], expected [48, 32] (layer 1"));
}

}  // namespace
}  // namespace ghost
