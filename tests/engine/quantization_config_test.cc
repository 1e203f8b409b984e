// config.json's quantization_config: every block-quantized weight format written and read back
// under its table name, the "scheme" key kept as it is on disk, and formats that are not
// block-quantized refused.
#include "engine/checkpoint/quantization_config.h"

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ghost {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<std::optional<GhostQuantization>> Parse(const nlohmann::json& quantization) {
  return ParseQuantizationConfig({{"quantization_config", quantization}}, 2, "config.json");
}

TEST(QuantizationConfigTest, EveryBlockQuantizedFormatRoundTrips) {
  for (const WeightFormatTraits& traits : kWeightFormats) {
    if (!traits.block_quantized) continue;
    GhostQuantization q;
    q.scheme = "some-recipe";
    q.format = traits.format;
    q.block_size = 32;
    q.codebook_group_rows = traits.format == WeightFormat::kCodebook2Bit ? 4 : 0;
    q.gate_thresholds = {0.5f, 0.25f};
    const nlohmann::json json = q.ToJson();
    EXPECT_EQ(json.at("format"), traits.name);
    EXPECT_EQ(json.at("scheme"), "some-recipe");
    absl::StatusOr<std::optional<GhostQuantization>> back = Parse(json);
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_TRUE(back->has_value());
    EXPECT_EQ((*back)->format, traits.format) << traits.name;
    EXPECT_EQ((*back)->scheme, "some-recipe");
    EXPECT_EQ((*back)->block_size, 32u);
    EXPECT_EQ((*back)->codebook_group_rows, q.codebook_group_rows);
    EXPECT_EQ((*back)->gate_thresholds, q.gate_thresholds);
  }
}

TEST(QuantizationConfigTest, ReadsTheKeysCompressedModelsHaveOnDisk) {
  // As a compressed model's config.json says it.
  const nlohmann::json on_disk = nlohmann::json::parse(R"({
      "quant_method": "ghost", "scheme": "ternary", "format": "ternary-2bit",
      "block_size": 64, "scale_scheme": "fp16"})");
  absl::StatusOr<std::optional<GhostQuantization>> q = Parse(on_disk);
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_TRUE(q->has_value());
  EXPECT_EQ((*q)->format, WeightFormat::kTernary2Bit);
  EXPECT_EQ((*q)->scheme, "ternary");
  EXPECT_EQ((*q)->ToJson(), on_disk);
}

TEST(QuantizationConfigTest, RefusesFormatsThatAreNotBlockQuantized) {
  GhostQuantization q;
  q.scheme = "ternary";
  for (const char* format : {"bf16", "f32", "ternary", "int3"}) {
    nlohmann::json json = q.ToJson();
    json["format"] = format;
    absl::StatusOr<std::optional<GhostQuantization>> parsed = Parse(json);
    ASSERT_FALSE(parsed.ok()) << format;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(parsed.status().message()),
                HasSubstr("config.json: quantization_config.format \""));
    EXPECT_THAT(std::string(parsed.status().message()),
                HasSubstr("(ternary-2bit, ternary-base3, codebook-2bit)"));
  }
}

}  // namespace
}  // namespace ghost
