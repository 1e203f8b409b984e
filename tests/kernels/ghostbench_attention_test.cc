// Smoke test of `ghostbench attention`: it runs and prints the JSON that dashboards parse, also
// for several variants in one run.
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "kernels/cpu/attention.h"
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

// `--isa a,b` measures every case with each variant in turn; its rows say which.
TEST(GhostbenchAttentionTest, SeveralIsasAlternatePerCase) {
  const std::string isas = std::string("scalar,") +
                           ghost::kernels::AttentionIsaName(ghost::kernels::DetectedAttentionIsa());
  const std::string command =
      std::string(GHOSTBENCH_PATH) +
      " attention --json --seconds 0.02 --quick --contexts 100 --batch 1 --isa " + isas;
  std::string output;
  ASSERT_EQ(ghost::testing::RunCommand(command, output), 0) << command << "\n" << output;
  const nlohmann::json json = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded()) << output;
  EXPECT_EQ(json.at("isa").get<std::string>(), isas);
  // (One decode, one prefill chunk) x 2 variants, alternating.
  const nlohmann::json& results = json.at("results");
  ASSERT_EQ(results.size(), 4u);
  for (std::size_t i = 0; i < results.size(); i += 2) {
    EXPECT_EQ(results[i].at("isa").get<std::string>(), "scalar");
    EXPECT_EQ(results[i + 1].at("isa").get<std::string>(), isas.substr(7));
    EXPECT_EQ(results[i].at("kind"), results[i + 1].at("kind"));
    EXPECT_EQ(results[i].at("context"), results[i + 1].at("context"));
  }
}

// A variant this CPU lacks, or no such variant, is refused with the usage.
TEST(GhostbenchAttentionTest, UnknownIsaIsRefused) {
  const std::string command =
      std::string(GHOSTBENCH_PATH) + " attention --json --quick --isa avx512,neon";
  std::string output;
  EXPECT_NE(ghost::testing::RunCommand(command, output), 0) << output;
}

}  // namespace
