// Smoke test of `ghostbench sparse`: a tiny MLP runs in well under a second and prints the
// JSON that dashboards parse; timings are never asserted.
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/run_command.h"

namespace {

TEST(GhostbenchSparseTest, QuickRunPrintsJson) {
  const std::string command =
      std::string(GHOSTBENCH_PATH) + " sparse --json --seconds 0.02 --quick";
  std::string output;
  ASSERT_EQ(ghost::testing::RunCommand(command, output), 0) << command << "\n" << output;

  const nlohmann::json json = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded()) << output;
  EXPECT_TRUE(json.at("quick").get<bool>());
  const auto hidden = json.at("hidden").get<long>();
  const auto inner = json.at("inner").get<long>();
  EXPECT_GT(hidden, 0);
  EXPECT_GT(inner, 0);
  const nlohmann::json& results = json.at("results");
  ASSERT_EQ(results.size(), 12u);  // {bf16, f16, ternary-2bit} x sparsity {0, 0.3, 0.5, 0.7}.
  std::set<std::string> formats;
  for (const nlohmann::json& r : results) {
    formats.insert(r.at("format").get<std::string>());
    const double sparsity = r.at("sparsity").get<double>();
    EXPECT_GE(sparsity, 0.0);
    EXPECT_LT(sparsity, 1.0);
    // Exactly the requested share of neurons is inactive.
    EXPECT_NEAR(static_cast<double>(r.at("active_neurons").get<long>()),
                (1.0 - sparsity) * static_cast<double>(inner), 1.0);
    EXPECT_DOUBLE_EQ(r.at("ideal_speedup").get<double>(), 1.0 / (1.0 - sparsity));
    for (const char* key :
         {"dense_seconds", "sparse_seconds", "speedup", "fraction_of_ideal", "read_all_seconds",
          "read_active_seconds", "read_ceiling_speedup", "fraction_of_read_ceiling"}) {
      EXPECT_GT(r.at(key).get<double>(), 0.0) << key;
    }
  }
  EXPECT_EQ(formats, (std::set<std::string>{"bf16", "f16", "ternary-2bit/b64"}));
}

}  // namespace
