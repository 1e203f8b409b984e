// Where the server writes (issue 16: `make run` left compression outputs in the checkout's
// models/): everything goes under the data directory, by default the XDG data home.
#include <cstdlib>
#include <filesystem>

#include "gtest/gtest.h"
#include "server/server.h"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

namespace fs = std::filesystem;

// Sets an environment variable for the scope, restoring the previous value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnv() { old_.empty() ? unsetenv(name_) : setenv(name_, old_.c_str(), 1); }

 private:
  const char* name_;
  std::string old_;
};

TEST(DataDirTest, DefaultsToTheXdgDataHome) {
  ScopedEnv home("HOME", "/home/someone");
  {
    ScopedEnv data_home("XDG_DATA_HOME", "/srv/data");
    EXPECT_EQ(*server::DefaultDataDir(), "/srv/data/ghostserve");
  }
  {
    ScopedEnv data_home("XDG_DATA_HOME", nullptr);
    EXPECT_EQ(*server::DefaultDataDir(), "/home/someone/.local/share/ghostserve");
  }
  {
    // The XDG convention ignores a relative XDG_DATA_HOME.
    ScopedEnv data_home("XDG_DATA_HOME", "relative/data");
    EXPECT_EQ(*server::DefaultDataDir(), "/home/someone/.local/share/ghostserve");
    ScopedEnv no_home("HOME", nullptr);
    EXPECT_EQ(server::DefaultDataDir().status().code(), absl::StatusCode::kFailedPrecondition);
  }
}

TEST(DataDirTest, TheServerWritesOnlyUnderItsDataDirectory) {
  server::ServerOptions options = TestServerOptions();
  options.registry_dir.clear();  // the default: <data_dir>/registry
  {
    server::ServerOptions without = options;
    without.data_dir.clear();
    EXPECT_EQ(server::GhostServer::Start(without).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  std::unique_ptr<server::GhostServer> server = StartTestServer(options);
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(fs::is_directory(options.data_dir + "/models"));
  EXPECT_TRUE(fs::exists(options.data_dir + "/registry/registry.json"));
  server.reset();
  fs::remove_all(options.data_dir);
}

}  // namespace
}  // namespace ghost::testing
