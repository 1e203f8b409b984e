// Smoke test of `ghostbench kernels`: it runs and prints the JSON that dashboards parse.
#include <cstdio>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/run_command.h"

namespace {

TEST(GhostbenchKernelsTest, QuickRunPrintsJson) {
  const std::string command =
      std::string(GHOSTBENCH_PATH) + " kernels --json --seconds 0.05 --quick";
  std::string output;
  ASSERT_EQ(ghost::testing::RunCommand(command, output), 0) << command << "\n" << output;

  const nlohmann::json json = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded()) << output;
  EXPECT_TRUE(json.at("isa").is_string());
  EXPECT_TRUE(json.at("quick").get<bool>());
  const nlohmann::json& bandwidth = json.at("bandwidth");
  EXPECT_GT(bandwidth.at("gb_per_s").get<double>(), 0.0);
  EXPECT_GT(bandwidth.at("bytes").get<double>(), 0.0);
  EXPECT_GE(bandwidth.at("threads").get<int>(), 1);
  // The per-CPU summary: model name, the kernels' ISA, bandwidth and int8 dot-product peak.
  const nlohmann::json& cpu = json.at("cpu");
  EXPECT_FALSE(cpu.at("model").get<std::string>().empty());
  EXPECT_FALSE(cpu.at("kernels").get<std::string>().empty());
  EXPECT_GT(cpu.at("read_gb_per_s").get<double>(), 0.0);
  const bool has_int8_dot = !cpu.at("int8_dot_instruction").get<std::string>().empty();
  EXPECT_EQ(cpu.at("int8_dot_gmacs_per_s").get<double>() > 0.0, has_int8_dot);
  const nlohmann::json& results = json.at("results");
  // {f32, bf16, f16} x {2 shapes} x {n = 1, 8}, then 3 low-bit formats x 2 block sizes x
  // {2 shapes} x {n = 1, 8}, and the fp32-activation path of 2 formats at block size 64 x
  // {2 shapes} x {n = 1, 8}.
  ASSERT_EQ(results.size(), 12u + 24u + 8u);
  int low_bit = 0;
  int f32_activations = 0;
  for (const nlohmann::json& r : results) {
    const std::string kernel = r.at("kernel").get<std::string>();
    const std::string format = r.at("format").get<std::string>();
    if (kernel == "MatMulQuant") {
      ++low_bit;
      EXPECT_TRUE(format == "ternary-2bit" || format == "ternary-base3" ||
                  format == "codebook-2bit")
          << format;
      const long block_size = r.at("block_size").get<long>();
      EXPECT_TRUE(block_size == 64 || block_size == 256) << block_size;
    } else if (kernel == "MatMulQuantF32") {
      ++f32_activations;
      EXPECT_TRUE(format == "ternary-2bit" || format == "codebook-2bit") << format;
      EXPECT_EQ(r.at("block_size").get<long>(), 64);
    } else {
      EXPECT_TRUE((kernel == "MatMulF32" && format == "f32") ||
                  (kernel == "MatMulBf16" && format == "bf16") ||
                  (kernel == "MatMulF16" && format == "f16"))
          << kernel << " " << format;
    }
    for (const char* key : {"rows", "cols", "n", "weight_copies", "calls"}) {
      EXPECT_GE(r.at(key).get<long>(), 1) << key;
    }
    // The roofline (bandwidth or int8 compute) applies to the int8-activation products.
    EXPECT_EQ(r.at("ratio_to_roofline").get<double>() > 0.0,
              kernel == "MatMulQuant" && has_int8_dot)
        << kernel;
    for (const char* key : {"seconds_per_call", "weight_gb_per_s", "ratio_to_bandwidth"}) {
      EXPECT_GT(r.at(key).get<double>(), 0.0) << key;
    }
  }
  EXPECT_EQ(low_bit, 24);
  EXPECT_EQ(f32_activations, 8);
}

// --tokens replaces the default token counts {1, 8}: every case runs once per listed count.
TEST(GhostbenchKernelsTest, TokenCountsFromTheCommandLine) {
  const std::string command = std::string(GHOSTBENCH_PATH) +
                              " kernels --json --seconds 0.05 --quick --only ternary-2bit"
                              " --tokens 2,5";
  std::string output;
  ASSERT_EQ(ghost::testing::RunCommand(command, output), 0) << command << "\n" << output;
  const nlohmann::json json = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded()) << output;
  const nlohmann::json& results = json.at("results");
  // 2 block sizes x 2 shapes x 2 counts with int8 activations, and block size 64 x 2 shapes x
  // 2 counts with fp32 activations.
  ASSERT_EQ(results.size(), 8u + 4u);
  int twos = 0;
  int fives = 0;
  for (const nlohmann::json& r : results) {
    EXPECT_EQ(r.at("format").get<std::string>(), "ternary-2bit");
    const long n = r.at("n").get<long>();
    twos += n == 2;
    fives += n == 5;
  }
  EXPECT_EQ(twos, 6);
  EXPECT_EQ(fives, 6);
}

TEST(GhostbenchKernelsTest, RejectsBadTokenCounts) {
  for (const char* list : {"0", "2,", "x", "300", "-1"}) {
    const std::string command =
        std::string(GHOSTBENCH_PATH) + " kernels --quick --tokens " + list + " 2>/dev/null";
    std::string output;
    EXPECT_NE(ghost::testing::RunCommand(command, output), 0) << list;
  }
}

}  // namespace
