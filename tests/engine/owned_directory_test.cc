// Owned directories: exclusive creation with a durable marker, ownership checks that nothing
// else passes, removal of owned directories only, and renames that never replace anything.
#include "engine/common/owned_directory.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace ghost {
namespace {

namespace fs = std::filesystem;

class OwnedDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ =
        fs::path(::testing::TempDir()) /
        ("owned-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string Path(const std::string& name) const { return (root_ / name).string(); }
  static void Write(const std::string& path, const std::string& contents) {
    std::ofstream(path) << contents;
  }

  fs::path root_;
};

TEST_F(OwnedDirectoryTest, CreatesExclusivelyWithTheMarker) {
  ASSERT_TRUE(CreateOwnedDirectory(Path("out"), "job-1").ok());
  EXPECT_TRUE(IsOwnedBy(Path("out"), "job-1"));
  EXPECT_FALSE(IsOwnedBy(Path("out"), "job-2"));
  EXPECT_FALSE(IsOwnedBy(Path("out"), "job-"));
  // Whatever is at the path already is neither reused nor touched.
  Write(Path("out") + "/weights", "w");
  EXPECT_EQ(CreateOwnedDirectory(Path("out"), "job-2").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(IsOwnedBy(Path("out"), "job-1"));
  EXPECT_TRUE(fs::exists(Path("out") + "/weights"));
  Write(Path("file"), "x");
  EXPECT_EQ(CreateOwnedDirectory(Path("file"), "job-1").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(CreateOwnedDirectory(Path("other"), "").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(OwnedDirectoryTest, OnlyAMarkerFileOfTheOwnerCounts) {
  fs::create_directory(Path("plain"));
  EXPECT_FALSE(IsOwnedBy(Path("plain"), "job-1"));
  EXPECT_FALSE(IsOwnedBy(Path("missing"), "job-1"));
  // A symlink to an owned directory, or a marker that is a symlink, is not ownership.
  ASSERT_TRUE(CreateOwnedDirectory(Path("owned"), "job-1").ok());
  fs::create_directory_symlink(Path("owned"), Path("link"));
  EXPECT_FALSE(IsOwnedBy(Path("link"), "job-1"));
  fs::create_directory(Path("linked-marker"));
  fs::create_symlink(Path("owned") + "/" + kOwnerMarkerFile,
                     Path("linked-marker") + "/" + kOwnerMarkerFile);
  EXPECT_FALSE(IsOwnedBy(Path("linked-marker"), "job-1"));
  fs::create_directory(Path("longer"));
  Write(Path("longer") + "/" + kOwnerMarkerFile, "job-1\n");
  EXPECT_FALSE(IsOwnedBy(Path("longer"), "job-1"));
}

TEST_F(OwnedDirectoryTest, RemovesOnlyOwnedDirectories) {
  ASSERT_TRUE(CreateOwnedDirectory(Path("mine"), "job-1").ok());
  Write(Path("mine") + "/weights", "w");
  fs::create_directory(Path("theirs"));
  Write(Path("theirs") + "/weights", "w");
  ASSERT_TRUE(CreateOwnedDirectory(Path("other-job"), "job-2").ok());

  EXPECT_TRUE(RemoveIfOwned(Path("theirs"), "job-1").ok());
  EXPECT_TRUE(RemoveIfOwned(Path("other-job"), "job-1").ok());
  EXPECT_TRUE(RemoveIfOwned(Path("missing"), "job-1").ok());
  EXPECT_TRUE(fs::exists(Path("theirs") + "/weights"));
  EXPECT_TRUE(IsOwnedBy(Path("other-job"), "job-2"));
  EXPECT_TRUE(RemoveIfOwned(Path("mine"), "job-1").ok());
  EXPECT_FALSE(fs::exists(Path("mine")));
}

TEST_F(OwnedDirectoryTest, RenameNeverReplacesAnything) {
  ASSERT_TRUE(CreateOwnedDirectory(Path("a.partial"), "a").ok());
  ASSERT_TRUE(CreateOwnedDirectory(Path("b.partial"), "b").ok());
  ASSERT_TRUE(RenameNoReplace(Path("a.partial"), Path("out")).ok());
  EXPECT_TRUE(IsOwnedBy(Path("out"), "a"));
  // The second writer loses the name and keeps its own directory.
  EXPECT_EQ(RenameNoReplace(Path("b.partial"), Path("out")).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(IsOwnedBy(Path("out"), "a"));
  EXPECT_TRUE(IsOwnedBy(Path("b.partial"), "b"));
  // Not even an empty directory is replaced (rename(2) alone would).
  fs::create_directory(Path("empty"));
  EXPECT_EQ(RenameNoReplace(Path("b.partial"), Path("empty")).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(fs::is_empty(Path("empty")));
}

}  // namespace
}  // namespace ghost
