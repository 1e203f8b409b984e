// `ghostbench eval` on a tiny random model: the JSON it prints holds the engine's own bits per
// byte for the same model, text and window. Timings are never asserted.
#include <filesystem>
#include <string>

#include "engine/model/evaluate.h"
#include "engine/model/model.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/engine/test_model.h"
#include "tests/run_command.h"

namespace ghost {
namespace {

TEST(GhostbenchEvalTest, PrintsTheEnginesBitsPerByte) {
  const std::string root = ghost::testing::MakeTempDir("ghostbench_eval");
  std::filesystem::create_directory(root + "/tiny");
  ghost::testing::WriteTinyLlama(root + "/tiny", ghost::testing::TinyLlamaSpec{});
  const std::string text_path = root + "/text.txt";
  std::string text;
  for (int i = 0; i < 20; ++i) text += "Call me Ishmael. Some years ago, never mind how long. ";
  ghost::testing::WriteFile(text_path, text);

  const std::string command = std::string(GHOSTBENCH_PATH) + " eval --model tiny --model_root " +
                              root + " --text " + text_path + " --window=32 2>/dev/null";
  std::string output;
  ASSERT_EQ(ghost::testing::RunCommand(command, output), 0) << command << "\n" << output;
  const nlohmann::json json = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(json.is_discarded()) << output;

  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(root + "/tiny");
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<EvalResult> expected = EvaluateBitsPerByte(**model, text, 32);
  ASSERT_TRUE(expected.ok()) << expected.status();
  EXPECT_EQ(json.at("model"), "tiny");
  EXPECT_EQ(json.at("text"), text_path);
  EXPECT_EQ(json.at("window"), 32);
  EXPECT_EQ(json.at("bytes_predicted").get<std::int64_t>(), expected->bytes_predicted);
  EXPECT_DOUBLE_EQ(json.at("bits_per_byte").get<double>(), expected->bits_per_byte);
  EXPECT_GE(json.at("seconds").get<double>(), 0.0);
}

TEST(GhostbenchEvalTest, FailsOnAMissingTextOrModel) {
  const std::string root = ghost::testing::MakeTempDir("ghostbench_eval_errors");
  ghost::testing::WriteFile(root + "/text.txt", "some text");
  const std::string eval = std::string(GHOSTBENCH_PATH) + " eval --model_root " + root;
  std::string output;
  EXPECT_NE(
      ghost::testing::RunCommand(eval + " --text " + root + "/missing.txt 2>/dev/null", output), 0);
  EXPECT_NE(ghost::testing::RunCommand(
                eval + " --model none --text " + root + "/text.txt 2>/dev/null", output),
            0);
  EXPECT_TRUE(output.empty()) << output;
}

}  // namespace
}  // namespace ghost
