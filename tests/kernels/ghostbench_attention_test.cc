// Smoke test of `ghostbench attention`: it runs and prints the JSON that dashboards parse.
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/run_command.h"

namespace {

TEST(GhostbenchAttentionTest, QuickRunPrintsJson) {
  const std::string command =
      std::string(GHOSTBENCH_PATH) + " attention --json --seconds 0.02 --quick";
  std::string output;
  ASSERT_EQ(ghost::testing::RunCommand(command, output), 0) << command << "\n" << output;

  const nlohmann::json json = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded()) << output;
  EXPECT_TRUE(json.at("isa").is_string());
  EXPECT_EQ(json.at("kv_dtype").get<std::string>(), "bf16");
  EXPECT_GT(json.at("bandwidth").at("gb_per_s").get<double>(), 0.0);
  // --quick: contexts {100, 600} x (decode of {1, 3} sequences, one prefill chunk).
  const nlohmann::json& results = json.at("results");
  ASSERT_EQ(results.size(), 6u);
  std::set<std::string> kinds;
  for (const nlohmann::json& r : results) {
    const std::string kind = r.at("kind").get<std::string>();
    kinds.insert(kind);
    const long context = r.at("context").get<long>();
    EXPECT_TRUE(context == 100 || context == 600) << context;
    if (kind == "prefill") {
      EXPECT_EQ(r.at("sequences").get<long>(), 1);
      // A chunk of 128 positions, capped by the context.
      EXPECT_EQ(r.at("new_positions").get<long>(), context == 100 ? 100 : 128);
    } else {
      EXPECT_EQ(r.at("new_positions").get<long>(), 1);
    }
    // Every cached position's key and value: 4 kv heads x 64 bf16 values each.
    EXPECT_EQ(r.at("kv_bytes").get<double>(),
              static_cast<double>(r.at("sequences").get<long>() * context * 2 * 4 * 64 * 2));
    for (const char* key :
         {"seconds_per_call", "kv_gb_per_s", "ratio_to_bandwidth", "gmacs_per_s"}) {
      EXPECT_GT(r.at(key).get<double>(), 0.0) << key;
    }
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"decode", "prefill"}));
}

}  // namespace
