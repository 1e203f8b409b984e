#include "engine/tokenizer/tokenizer.h"

#include <string>

#include "engine/common/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<Tokenizer> ByteLevel() {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer =
      Tokenizer::FromJson(ghost::testing::ByteLevelTokenizerJson(), "tokenizer.json");
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? *std::move(tokenizer) : nullptr;
}

std::string RoundTrip(const Tokenizer& tokenizer, const std::string& text) {
  const std::vector<std::int32_t> ids = tokenizer.Encode(text, false);
  EXPECT_EQ(ids.size(), text.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(ids[i], static_cast<unsigned char>(text[i]));  // the trainer's id = byte layout
  }
  absl::StatusOr<std::string> decoded = tokenizer.Decode(ids, false);
  EXPECT_TRUE(decoded.ok());
  return decoded.ok() ? *decoded : "";
}

TEST(TokenizerTest, ByteLevelRoundTrips) {
  std::unique_ptr<Tokenizer> tokenizer = ByteLevel();
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->vocab_size(), 259);
  EXPECT_EQ(tokenizer->type_name(), "byte-level");
  for (const std::string& text :
       {std::string("Hello, world!\n"), std::string("naïve café — ünïcödé"),
        std::string("emoji \xF0\x9F\x98\x80 and CJK \xE4\xB8\xAD\xE6\x96\x87"),
        std::string("invalid \xFF\xFE\xC3 bytes"), std::string("\0\x01\x7F", 3), std::string()}) {
    EXPECT_EQ(RoundTrip(*tokenizer, text), text);
  }
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  EXPECT_EQ(RoundTrip(*tokenizer, all_bytes), all_bytes);
}

TEST(TokenizerTest, SpecialTokens) {
  std::unique_ptr<Tokenizer> tokenizer = ByteLevel();
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_THAT(tokenizer->Encode("a</s>b", true), ElementsAre('a', 257, 'b'));
  EXPECT_THAT(tokenizer->Encode("<s><pad>", true), ElementsAre(256, 258));
  EXPECT_EQ(tokenizer->Encode("a</s>b", false).size(), 6u);  // literal bytes
  EXPECT_TRUE(tokenizer->IsSpecial(257));
  EXPECT_FALSE(tokenizer->IsSpecial('a'));
  EXPECT_FALSE(tokenizer->IsSpecial(9999));
  EXPECT_EQ(*tokenizer->Decode({256, 'h', 'i', 257}, false), "<s>hi</s>");
  EXPECT_EQ(*tokenizer->Decode({256, 'h', 'i', 257}, true), "hi");
  const absl::StatusOr<std::string> bad = tokenizer->Decode({259}, false);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("token id 259"));
}

TEST(TokenizerTest, ByteLevelErrors) {
  nlohmann::json json = nlohmann::json::parse(ghost::testing::ByteLevelTokenizerJson());
  json["model"]["vocab"].erase("A");
  absl::StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromJson(json.dump(), "x.json");
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("x.json: model.vocab: "));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("lacks byte 0x41"));

  json = nlohmann::json::parse(ghost::testing::ByteLevelTokenizerJson());
  json["added_tokens"][0]["special"] = "yes";
  t = Tokenizer::FromJson(json.dump(), "x.json");
  EXPECT_THAT(std::string(t.status().message()),
              HasSubstr("x.json: added_tokens[0]: \"special\" must be true or false"));

  json = nlohmann::json::parse(ghost::testing::ByteLevelTokenizerJson());
  json["added_tokens"][0]["id"] = 4294967296 + 5;  // must not wrap around to id 5
  t = Tokenizer::FromJson(json.dump(), "x.json");
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("\"id\" must be an integer in"));

  t = Tokenizer::FromFile("/nonexistent/tokenizer.json");
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
}

TEST(TokenizerTest, ByteLevelWithMergesIsBpe) {
  nlohmann::json json = nlohmann::json::parse(ghost::testing::ByteLevelTokenizerJson());
  json["model"]["merges"] = {"a b"};
  json["model"]["vocab"]["ab"] = 300;
  absl::StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromJson(json.dump(), "x.json");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->type_name(), "byte-level-bpe");
  EXPECT_THAT((*t)->Encode("xab", false), ElementsAre('x', 300));
}

TEST(StreamDecoderTest, NeverSplitsACharacter) {
  std::unique_ptr<Tokenizer> tokenizer = ByteLevel();
  ASSERT_NE(tokenizer, nullptr);
  const std::string text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";  // a é € 😀 z
  StreamDecoder decoder(*tokenizer);
  std::vector<std::string> deltas;
  for (std::int32_t id : tokenizer->Encode(text, false)) deltas.push_back(decoder.Append(id));
  EXPECT_THAT(deltas, ElementsAre("a", "", "\xC3\xA9", "", "", "\xE2\x82\xAC", "", "", "",
                                  "\xF0\x9F\x98\x80", "z"));
  for (const std::string& delta : deltas) EXPECT_TRUE(IsValidUtf8(delta));
  EXPECT_EQ(decoder.Flush(), "");
}

TEST(StreamDecoderTest, InvalidBytesBecomeReplacementCharacters) {
  std::unique_ptr<Tokenizer> tokenizer = ByteLevel();
  ASSERT_NE(tokenizer, nullptr);
  StreamDecoder decoder(*tokenizer);
  std::string out;
  // 0xFF never starts a character; 0xE2 0x82 followed by 'x' is a broken 3-byte sequence.
  for (std::int32_t id : std::vector<std::int32_t>{0xFF, 'a', 0xE2, 0x82, 'x', 256, 0xF0})
    out += decoder.Append(id);
  EXPECT_EQ(out,
            "\xEF\xBF\xBD"
            "a"
            "\xEF\xBF\xBD"
            "x");
  EXPECT_EQ(decoder.Flush(), "\xEF\xBF\xBD");  // the dangling 0xF0
  EXPECT_EQ(decoder.Flush(), "");
}

TEST(Utf8Test, Validation) {
  EXPECT_TRUE(IsValidUtf8("plain \xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // truncated
}

}  // namespace
}  // namespace ghost
