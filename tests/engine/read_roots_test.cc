// Confinement of file reads (engine/common/read_roots.h, TESTPLAN G23): under a ScopedReadRoots,
// ReadFileToString and MappedFile::Open read only files really under a root, checked on what
// they opened, and name files relative to it.
#include "engine/common/read_roots.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "engine/common/file.h"
#include "engine/common/mapped_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ghost {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class ReadRootsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = (fs::temp_directory_path() / ("read-roots-" + std::to_string(::getpid()))).string();
    fs::remove_all(base_);
    fs::create_directories(base_ + "/root/model");
    fs::create_directories(base_ + "/outside");
    Write(base_ + "/root/model/config.json", "{}");
    Write(base_ + "/root/shared.json", "[1]");
    Write(base_ + "/outside/secret", "root:x:0:0");
    fs::create_symlink("../shared.json", base_ + "/root/model/inside.json");
    fs::create_symlink(base_ + "/outside/secret", base_ + "/root/model/escape.json");
    // A directory symlink: the escape is in a middle component.
    fs::create_directory_symlink(base_ + "/outside", base_ + "/root/model/dir");
  }
  void TearDown() override { fs::remove_all(base_); }

  static void Write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }

  std::string base_;
};

TEST_F(ReadRootsTest, OnlyFilesUnderTheRootsAreReadAndErrorsAreRelative) {
  const ScopedReadRoots confined({base_ + "/root"});
  const std::string model = base_ + "/root/model";
  EXPECT_EQ(*ReadFileToString(model + "/config.json"), "{}");
  EXPECT_EQ(*ReadFileToString(model + "/inside.json"), "[1]");
  for (const std::string file : {"escape.json", "dir/secret"}) {
    const absl::StatusOr<std::string> read = ReadFileToString(model + "/" + file);
    EXPECT_EQ(read.status().code(), absl::StatusCode::kPermissionDenied) << file;
    EXPECT_EQ(read.status().message(),
              "model/" + file + " leaves its model root (a symlink points outside it); not read");
    const auto mapped = MappedFile::Open(model + "/" + file);
    EXPECT_EQ(mapped.status().code(), absl::StatusCode::kPermissionDenied) << file;
    EXPECT_THAT(mapped.status().message(), Not(HasSubstr(base_)));
  }
  const absl::StatusOr<std::string> missing = ReadFileToString(model + "/missing.json");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("model/missing.json: cannot open"));
  EXPECT_THAT(missing.status().message(), Not(HasSubstr(base_)));
}

TEST_F(ReadRootsTest, ScopesNestAndEnd) {
  {
    const ScopedReadRoots outer({base_ + "/outside"});
    {
      const ScopedReadRoots inner({base_ + "/root"});
      EXPECT_FALSE(ReadFileToString(base_ + "/outside/secret").ok());
    }
    EXPECT_TRUE(ReadFileToString(base_ + "/outside/secret").ok());
    EXPECT_FALSE(ReadFileToString(base_ + "/root/shared.json").ok());
  }
  EXPECT_TRUE(ReadFileToString(base_ + "/root/model/escape.json").ok());  // no scope, no limit
}

// A FIFO named like a model file must not block a load; outside a scope a pipe is read as asked
// (a key file passed as /dev/fd/N, here /proc/self/fd/N).
TEST_F(ReadRootsTest, NonRegularFilesAreRefusedUnderAScope) {
  const std::string fifo = base_ + "/root/model/tokenizer.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  {
    const ScopedReadRoots confined({base_ + "/root"});
    const absl::StatusOr<std::string> read = ReadFileToString(fifo);
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(read.status().message(), "model/tokenizer.json: not a regular file");
    EXPECT_EQ(MappedFile::Open(fifo).status().code(), absl::StatusCode::kInvalidArgument);
  }
  int ends[2];
  ASSERT_EQ(::pipe(ends), 0);
  ASSERT_EQ(::write(ends[1], "through a pipe", 14), 14);
  ::close(ends[1]);
  const absl::StatusOr<std::string> piped =
      ReadFileToString("/proc/self/fd/" + std::to_string(ends[0]));
  ::close(ends[0]);
  ASSERT_TRUE(piped.ok()) << piped.status();
  EXPECT_EQ(*piped, "through a pipe");
}

}  // namespace
}  // namespace ghost
