#include "engine/registry/registry.h"

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using ::testing::HasSubstr;

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root1_ = ghost::testing::MakeTempDir("root1");
    root2_ = ghost::testing::MakeTempDir("root2");
    for (const std::string& dir : {root1_ + "/tiny", root2_ + "/tiny", root2_ + "/other"}) {
      std::filesystem::create_directory(dir);
      ghost::testing::WriteTinyLlama(dir, spec_);
    }
    std::filesystem::create_directory(root2_ + "/broken");
    ghost::testing::WriteFile(root2_ + "/broken/config.json", R"({"architectures": ["X"]})");
    std::filesystem::create_directory(root2_ + "/not-a-model");
  }

  std::unique_ptr<ModelRegistry> Make() {
    RegistryOptions options;
    options.model_roots = {root1_, root2_};
    absl::StatusOr<std::unique_ptr<ModelRegistry>> registry = ModelRegistry::Create(options);
    EXPECT_TRUE(registry.ok()) << registry.status();
    return registry.ok() ? *std::move(registry) : nullptr;
  }

  ghost::testing::TinyLlamaSpec spec_;
  std::string root1_, root2_;
};

TEST_F(RegistryTest, ScansRootsFirstRootWins) {
  std::unique_ptr<ModelRegistry> registry = Make();
  ASSERT_NE(registry, nullptr);
  const std::vector<ModelInfo> models = registry->List();
  ASSERT_EQ(models.size(), 3u);
  EXPECT_EQ(models[0].name, "broken");
  EXPECT_EQ(models[1].name, "other");
  EXPECT_EQ(models[2].name, "tiny");
  EXPECT_EQ(models[2].root, root1_);
  EXPECT_EQ(models[2].state, ModelState::kAvailable);
  EXPECT_EQ(models[2].summary.architecture, "LlamaForCausalLM");
  EXPECT_EQ(models[2].summary.context_length, 64);
  EXPECT_EQ(models[2].summary.vocab_size, 259);
  EXPECT_EQ(models[2].summary.dtype, "f32");
  EXPECT_EQ(models[2].summary.parameters, 0);  // known once loaded
  EXPECT_EQ(models[0].state, ModelState::kFailed);
  EXPECT_THAT(models[0].reason, HasSubstr("unsupported architecture X"));
}

TEST_F(RegistryTest, LoadGetReadyUnload) {
  std::unique_ptr<ModelRegistry> registry = Make();
  ASSERT_NE(registry, nullptr);
  const absl::Status not_loaded = registry->GetReady("tiny").status();
  EXPECT_EQ(not_loaded.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(not_loaded.message()), HasSubstr("not loaded (state: available)"));

  absl::StatusOr<std::shared_ptr<LoadedModel>> loaded = registry->Load("tiny");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->name, "tiny");
  EXPECT_NE((*loaded)->executor, nullptr);
  absl::StatusOr<std::shared_ptr<LoadedModel>> again = registry->Load("tiny");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), loaded->get());
  absl::StatusOr<std::shared_ptr<LoadedModel>> ready = registry->GetReady("tiny");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->get(), loaded->get());
  absl::StatusOr<ModelInfo> info = registry->Get("tiny");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, ModelState::kReady);
  EXPECT_GT(info->summary.parameters, 0);
  EXPECT_EQ(info->summary.tokenizer, "byte-level");

  ASSERT_TRUE(registry->Unload("tiny").ok());
  EXPECT_EQ(registry->Get("tiny")->state, ModelState::kAvailable);
  EXPECT_EQ(registry->Unload("tiny").code(), absl::StatusCode::kFailedPrecondition);
  // The executor of the unloaded model refuses new work.
  GenerationRequest request;
  request.prompt_tokens = {1};
  request.stopping.max_new_tokens = 4;
  EXPECT_EQ((*loaded)->executor->Enqueue(request, [](GenerationChunk) {}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(registry->Load("tiny").ok());
  registry->Shutdown();
  EXPECT_EQ(registry->Load("tiny").status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(RegistryTest, Errors) {
  std::unique_ptr<ModelRegistry> registry = Make();
  ASSERT_NE(registry, nullptr);
  const absl::Status unknown = registry->Get("nope").status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(unknown.message()),
              HasSubstr("model \"nope\" not found; known models: broken, other, tiny"));
  EXPECT_EQ(registry->Load("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry->GetReady("nope").status().code(), absl::StatusCode::kNotFound);

  const absl::Status broken = registry->Load("broken").status();
  EXPECT_THAT(std::string(broken.message()), HasSubstr("unsupported architecture X"));
  EXPECT_EQ(registry->Get("broken")->state, ModelState::kFailed);

  std::filesystem::remove(root2_ + "/other/model.safetensors");
  const absl::Status missing = registry->Load("other").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(registry->Get("other")->reason, HasSubstr("model.safetensors"));

  RegistryOptions options;
  options.model_roots = {root1_ + "/missing"};
  EXPECT_THAT(std::string(ModelRegistry::Create(options).status().message()),
              HasSubstr("is not an existing directory"));
}

}  // namespace
}  // namespace ghost
