// Smoke test of `ghostbench compress --quick`: it runs, prints the JSON that reports parse,
// and its numbers hang together. Timings are never asserted.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/run_command.h"

namespace {

TEST(GhostbenchCompressTest, QuickRunPrintsConsistentJson) {
  const std::string command = std::string(GHOSTBENCH_PATH) + " compress --json --quick";
  std::string output;
  ASSERT_EQ(ghost::testing::RunCommand(command, output), 0) << command << "\n" << output;

  const nlohmann::json json = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded()) << output;
  EXPECT_TRUE(json.at("quick").get<bool>());
  EXPECT_GE(json.at("threads").get<int>(), 1);
  ASSERT_EQ(json.at("matrices").size(), 2u);  // Gaussian and Student-t; no model when quick.
  const nlohmann::json& results = json.at("results");
  ASSERT_EQ(results.size(), 2u * 7u * 5u);  // {2 matrices} x {7 schemes} x {5 block sizes}.

  // (matrix, block size) -> scheme -> result.
  std::map<std::pair<std::string, int>, std::map<std::string, nlohmann::json>> by_case;
  for (const nlohmann::json& r : results) {
    EXPECT_GT(r.at("cosine").get<double>(), 0.8) << r;
    EXPECT_LE(r.at("cosine").get<double>(), 1.0) << r;
    EXPECT_GT(r.at("mse").get<double>(), 0.0) << r;
    EXPECT_GT(r.at("relative_error").get<double>(), 0.0) << r;
    const double bits = r.at("bits_per_weight").get<double>();
    EXPECT_GT(bits, 1.5) << r;
    EXPECT_LT(bits, 3.2) << r;
    EXPECT_NEAR(r.at("compression_vs_bf16").get<double>(), 16.0 / bits, 1e-9) << r;
    EXPECT_GT(r.at("weights_per_s").get<double>(), 0.0) << r;
    by_case[{r.at("matrix").get<std::string>(), r.at("block_size").get<int>()}]
           [r.at("scheme").get<std::string>()] = r;
  }
  for (const auto& [key, schemes] : by_case) {
    // Captured by name: clang 14 (the thread-safety pass) cannot capture a structured binding.
    const auto cosine = [&schemes = schemes](const char* scheme) {
      return schemes.at(scheme).at("cosine").get<double>();
    };
    const auto bits = [&schemes = schemes](const char* scheme) {
      return schemes.at(scheme).at("bits_per_weight").get<double>();
    };
    const std::string where = key.first + " B=" + std::to_string(key.second);
    EXPECT_GT(cosine("codebook"), cosine("ternary-exact")) << where;
    EXPECT_GE(cosine("ternary-exact"), cosine("ternary-iterative") - 1e-4) << where;
    // Base 3 stores the same codes and scales in fewer bits, except at B=16 where 16 codes
    // take 4 bytes either way.
    EXPECT_DOUBLE_EQ(cosine("ternary-base3-two-level-4"), cosine("ternary-two-level-4")) << where;
    if (key.second == 16) {
      EXPECT_DOUBLE_EQ(bits("ternary-base3-two-level-4"), bits("ternary-two-level-4")) << where;
    } else {
      EXPECT_LT(bits("ternary-base3-two-level-4"), bits("ternary-two-level-4")) << where;
    }
    if (key.second <= 64) {
      EXPECT_LT(bits("ternary-two-level-4"), bits("ternary-exact")) << where;
    }
  }
}

}  // namespace

// `ghostbench quality --quick`: one whole-model case on ghost-tiny (skipped without it).
TEST(GhostbenchQualityTest, QuickRunReportsAHeldOutEvaluation) {
  if (!std::filesystem::exists(std::string(GHOST_SOURCE_DIR) + "/models/ghost-tiny")) {
    GTEST_SKIP() << "no ghost-tiny";
  }
  const std::string command = std::string(GHOSTBENCH_PATH) + " quality --json --quick --model " +
                              GHOST_SOURCE_DIR + "/models/ghost-tiny";
  std::string output;
  ASSERT_EQ(ghost::testing::RunCommand(command, output), 0) << command << "\n" << output;
  const nlohmann::json json = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded()) << output;
  ASSERT_EQ(json.at("cases").size(), 1u);
  const nlohmann::json& c = json.at("cases")[0];
  EXPECT_GT(c.at("bits_per_byte_before").get<double>(), 1.0) << c;
  EXPECT_GT(c.at("bits_per_byte_after").get<double>(), 1.0) << c;
  EXPECT_LT(c.at("bits_per_byte_after").get<double>(), 8.0) << c;
  EXPECT_GT(c.at("removed_neuron_fraction").get<double>(), 0.0) << c;
  EXPECT_GT(c.at("activation_sparsity").get<double>(), 0.2) << c;
  EXPECT_GT(c.at("weights_per_second").get<double>(), 0.0) << c;
}

// `ghostbench quality --text FILE` evaluates on the user's file instead of the second half of
// the model's validation sample (--quick keeps at most its first 1024 bytes).
TEST(GhostbenchQualityTest, EvaluatesOnAUsersTextFile) {
  if (!std::filesystem::exists(std::string(GHOST_SOURCE_DIR) + "/models/ghost-tiny")) {
    GTEST_SKIP() << "no ghost-tiny";
  }
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("ghostbench_quality_text_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string text_path = (dir / "text.txt").string();
  std::string text;
  while (text.size() < 600) text += "It was the best of times, it was the worst of times. ";
  text.resize(600);
  std::ofstream(text_path, std::ios::binary) << text;

  const std::string command = std::string(GHOSTBENCH_PATH) + " quality --json --quick --model " +
                              GHOST_SOURCE_DIR + "/models/ghost-tiny --text " + text_path;
  std::string output;
  ASSERT_EQ(ghost::testing::RunCommand(command, output), 0) << command << "\n" << output;
  std::filesystem::remove_all(dir);
  const nlohmann::json json = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded()) << output;
  EXPECT_EQ(json.at("evaluation_text"), text_path);
  EXPECT_EQ(json.at("evaluation_bytes").get<int>(), 600);
  const nlohmann::json& c = json.at("cases")[0];
  EXPECT_GT(c.at("bits_per_byte_before").get<double>(), 0.0) << c;
  EXPECT_LT(c.at("bits_per_byte_before").get<double>(), 8.0) << c;

  // A file that is not there is an error, not a silent fallback to the validation sample.
  EXPECT_NE(ghost::testing::RunCommand(command + "-missing 2>/dev/null", output), 0);
}
