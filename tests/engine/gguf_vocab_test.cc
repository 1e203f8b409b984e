// Tokenizers built from tokenizer.ggml.* alone (no tokenizer.huggingface.json): a SentencePiece
// "llama" vocabulary (merges rebuilt from the scores, byte fallback, BOS) and a byte-level
// "gpt2" one with merges; plus the errors for what is not supported.
#include "engine/checkpoint/gguf_vocab.h"

#include <string>
#include <vector>

#include "engine/checkpoint/gguf.h"
#include "engine/checkpoint/gguf_writer.h"
#include "engine/tokenizer/tokenizer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<Tokenizer> FromMetadata(const GgufWriter& writer) {
  const std::string image = writer.Serialize();
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::FromBytes(
      reinterpret_cast<const std::uint8_t*>(image.data()), image.size(), "v.gguf");
  EXPECT_TRUE(file.ok()) << file.status();
  if (!file.ok()) return nullptr;
  absl::StatusOr<std::string> json = GgufTokenizerJson(**file);
  EXPECT_TRUE(json.ok()) << json.status();
  if (!json.ok()) return nullptr;
  absl::StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::FromJson(*json, "v.gguf");
  EXPECT_TRUE(tok.ok()) << tok.status();
  return tok.ok() ? *std::move(tok) : nullptr;
}

TEST(GgufVocabTest, SentencePieceVocabularyMergesByScore) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<std::int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    tokens.push_back(name);
    types.push_back(6);
  }
  const std::string space = "\xe2\x96\x81";
  const std::vector<std::pair<std::string, float>> pieces = {
      {space, -10}, {"h", -11},         {"e", -12},           {"l", -13},
      {"o", -14},   {"el", -6},         {"ll", -5},           {space + "h", -4},
      {"llo", -3},  {space + "he", -2}, {space + "hello", -1}};
  std::vector<float> scores(tokens.size(), 0.0f);
  for (const auto& [piece, score] : pieces) {
    tokens.push_back(piece);
    types.push_back(1);
    scores.push_back(score);
  }
  GgufWriter writer;
  writer.SetString("tokenizer.ggml.model", "llama");
  writer.SetStringArray("tokenizer.ggml.tokens", tokens);
  writer.SetI32Array("tokenizer.ggml.token_type", types);
  writer.SetF32Array("tokenizer.ggml.scores", scores);
  writer.SetU32("tokenizer.ggml.bos_token_id", 1);
  std::unique_ptr<Tokenizer> tok = FromMetadata(writer);
  ASSERT_NE(tok, nullptr);
  const std::int32_t hello = static_cast<std::int32_t>(tokens.size()) - 1;
  EXPECT_THAT(tok->Encode("hello", false, true), ElementsAre(1, hello));
  // 'i' and '!' are not pieces: they fall back to their bytes.
  const std::int32_t h = 3 + 256 + 7;  // "▁h"
  EXPECT_THAT(tok->Encode("hi!", false), ElementsAre(h, 3 + 'i', 3 + '!'));
  EXPECT_EQ(*tok->Decode(tok->Encode("hello hi!", false, true), true), "hello hi!");
}

TEST(GgufVocabTest, Gpt2VocabularyUsesItsMerges) {
  // The byte-level alphabet of the test tokenizer, then one merged token.
  const nlohmann::json doc = nlohmann::json::parse(ghost::testing::ByteLevelTokenizerJson());
  std::vector<std::string> tokens(256);
  for (const auto& [token, id] : doc["model"]["vocab"].items()) tokens[id.get<int>()] = token;
  tokens.push_back("ll");
  GgufWriter writer;
  writer.SetString("tokenizer.ggml.model", "gpt2");
  writer.SetString("tokenizer.ggml.pre", "llama-bpe");
  writer.SetStringArray("tokenizer.ggml.tokens", tokens);
  writer.SetStringArray("tokenizer.ggml.merges", {"l l"});
  std::unique_ptr<Tokenizer> tok = FromMetadata(writer);
  ASSERT_NE(tok, nullptr);
  EXPECT_THAT(tok->Encode("hello", false), ElementsAre('h', 'e', 256, 'o'));
  EXPECT_EQ(*tok->Decode(tok->Encode("hello, world", false), false), "hello, world");
}

TEST(GgufVocabTest, UnsupportedTokenizersAreNamed) {
  GgufWriter writer;
  writer.SetString("tokenizer.ggml.model", "bert");
  const std::string image = writer.Serialize();
  absl::StatusOr<std::unique_ptr<GgufFile>> file = GgufFile::FromBytes(
      reinterpret_cast<const std::uint8_t*>(image.data()), image.size(), "v.gguf");
  ASSERT_TRUE(file.ok());
  const absl::Status status = GgufTokenizerJson(**file).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(status.message(), HasSubstr("tokenizer.ggml.model \"bert\" is not supported"));
}

}  // namespace
}  // namespace ghost
