// Models found where they lie (RegistryOptions::discover_models): directories directly under the
// model roots are listed without ImportModel.
#include <filesystem>
#include <string>
#include <vector>

#include "engine/common/file.h"
#include "engine/common/owned_directory.h"
#include "engine/registry/registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class RegistryDiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::canonical(ghost::testing::MakeTempDir("discover_root")).string();
    root2_ = fs::canonical(ghost::testing::MakeTempDir("discover_root2")).string();
    registry_dir_ = ghost::testing::MakeTempDir("discover_registry") + "/state";
    for (const std::string& dir :
         {root_ + "/tiny", root_ + "/other", root2_ + "/second", root2_ + "/tiny",
          root_ + "/group/nested", root_ + "/in-progress"}) {
      fs::create_directories(dir);
      ghost::testing::WriteTinyLlama(dir, spec_);
    }
    // A directory the server is writing (a compression output) carries an ownership marker.
    ghost::testing::WriteFile(root_ + "/in-progress/" + kOwnerMarkerFile, "job-1");
    fs::create_directory(root_ + "/broken");
    ghost::testing::WriteFile(root_ + "/broken/config.json", "{not json");
    fs::create_directories(root_ + "/odd/config.json");  // a directory, not a file
    fs::create_directory(root_ + "/not-a-model");
    fs::create_directory(root_ + "/.hidden");
    ghost::testing::WriteTinyLlama(root_ + "/.hidden", spec_);
    ghost::testing::WriteFile(root_ + "/config.json", "{}");  // a file in the root itself
  }

  std::unique_ptr<ModelRegistry> Make(bool discover = true) {
    RegistryOptions options;
    options.model_roots = {root_, root2_};
    options.registry_dir = registry_dir_;
    options.discover_models = discover;
    absl::StatusOr<std::unique_ptr<ModelRegistry>> registry = ModelRegistry::Create(options);
    EXPECT_TRUE(registry.ok()) << registry.status();
    return registry.ok() ? *std::move(registry) : nullptr;
  }

  static std::vector<std::string> Names(const ModelRegistry& registry) {
    std::vector<std::string> names;
    for (const ModelInfo& info : registry.List()) names.push_back(info.name);
    return names;
  }

  ghost::testing::TinyLlamaSpec spec_;
  std::string root_, root2_, registry_dir_;
};

TEST_F(RegistryDiscoveryTest, DirectoriesUnderTheRootsAreListedAtStartWithoutImport) {
  std::unique_ptr<ModelRegistry> registry = Make();
  ASSERT_NE(registry, nullptr);
  // Not listed: a nested directory, one without config.json, one the server is writing, a name
  // no model may have.
  EXPECT_THAT(Names(*registry), ::testing::ElementsAre("broken", "odd", "other", "second", "tiny"));

  const ModelInfo tiny = *registry->Get("tiny");
  EXPECT_EQ(tiny.state, ModelState::kAvailable);
  EXPECT_EQ(tiny.root, root_);  // the first root holding a name wins
  EXPECT_EQ(tiny.path, "tiny");
  EXPECT_EQ(tiny.summary.architecture, "LlamaForCausalLM");
  EXPECT_FALSE(tiny.created_by_server);
  EXPECT_EQ(registry->Get("second")->root, root2_);

  // Unreadable ones are listed FAILED, saying why, and block nothing.
  const ModelInfo broken = *registry->Get("broken");
  EXPECT_EQ(broken.state, ModelState::kFailed);
  EXPECT_THAT(broken.reason, HasSubstr("broken/config.json"));
  EXPECT_THAT(broken.reason, Not(HasSubstr(root_)));  // paths stay relative to the root
  const ModelInfo odd = *registry->Get("odd");
  EXPECT_EQ(odd.state, ModelState::kFailed);
  EXPECT_THAT(odd.reason, HasSubstr("not a regular file"));

  // A discovered model loads and serves like an imported one.
  absl::StatusOr<ModelInfo> loaded = registry->Load("tiny");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(registry->GetReady("tiny").ok());
  EXPECT_FALSE(registry->Load("broken").ok());

  // ImportModel remains for nested paths and other names.
  ASSERT_TRUE(registry->Import("nested", "group/nested", ModelOrigin::kImported).ok());
  ASSERT_TRUE(registry->Import("tiny-again", "tiny", ModelOrigin::kImported).ok());
  EXPECT_EQ(registry->Import("tiny", "other", ModelOrigin::kImported).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(RegistryDiscoveryTest, RescanFindsNewDirectoriesAndRetriesFailedOnes) {
  std::unique_ptr<ModelRegistry> registry = Make();
  ASSERT_NE(registry, nullptr);
  fs::create_directory(root_ + "/late");
  ghost::testing::WriteTinyLlama(root_ + "/late", spec_);
  EXPECT_EQ(registry->Get("late").status().code(), absl::StatusCode::kNotFound);

  ghost::testing::WriteTinyLlama(root_ + "/broken", spec_);  // fixed
  fs::remove_all(root_ + "/odd");                            // gone
  registry->DiscoverModels();
  EXPECT_EQ(registry->Get("late")->state, ModelState::kAvailable);
  EXPECT_EQ(registry->Get("broken")->state, ModelState::kAvailable);
  EXPECT_EQ(registry->Get("odd").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(registry->Load("broken").ok());
}

TEST_F(RegistryDiscoveryTest, FoundModelsPersistAndFailedOnesAreNotWritten) {
  {
    std::unique_ptr<ModelRegistry> registry = Make();
    ASSERT_NE(registry, nullptr);
    ASSERT_TRUE(registry->Load("other").ok());
  }
  const std::string json = *ReadFileToString(registry_dir_ + "/registry.json");
  EXPECT_THAT(json, HasSubstr("\"path\": \"other\""));
  EXPECT_THAT(json, Not(HasSubstr("broken")));

  // Without discovery only what was written comes back: the ready model loads again.
  std::unique_ptr<ModelRegistry> registry = Make(/*discover=*/false);
  ASSERT_NE(registry, nullptr);
  EXPECT_THAT(Names(*registry), ::testing::ElementsAre("other", "second", "tiny"));
  EXPECT_TRUE(registry->Get("other")->load_at_start);
  EXPECT_TRUE(registry->Load("other").ok());
  registry->DiscoverModels();  // does nothing when discovery is off
  EXPECT_EQ(registry->Get("broken").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ghost
