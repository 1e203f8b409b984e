// BPE tokenizers on hand-made vocabularies: merges by rank, ignore_merges, byte fallback, unk,
// added tokens, normalizers, pre-tokenizers, post-processors and decoders. Real files are
// checked against the reference implementation in tokenizer_golden_test.cc.
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/tokenizer_test_util.h"

namespace ghost::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

// ids: bytes 0-255, " t" 256, "he" 257, " the" 258, "ll" 259, "12" 260, "123" 261.
Json ByteLevelFixture() {
  return ByteLevelBpeJson(
      {{" ", "t"}, {"h", "e"}, {" t", "he"}, {"l", "l"}, {"1", "2"}, {"12", "3"}});
}

// ids: <unk> 0, <s> 1, </s> 2, <0x00>.. 3.., ▁ 259, h 260, e 261, l 262, o 263, w 264, r 265,
// d 266, a 267, ▁h 268, ll 269, ▁he 270, ▁hell 271, ▁hello 272.
Json SentencePieceFixture() {
  return SentencePieceJson(
      {"\u2581", "h", "e", "l", "o", "w", "r", "d", "a"},
      {{"\u2581", "h"}, {"l", "l"}, {"\u2581h", "e"}, {"\u2581he", "ll"}, {"\u2581hell", "o"}});
}

TEST(ByteLevelBpeTest, MergesByRank) {
  std::unique_ptr<Tokenizer> tokenizer = Load(ByteLevelFixture());
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->type_name(), "byte-level-bpe");
  EXPECT_EQ(tokenizer->vocab_size(), 502);
  EXPECT_THAT(tokenizer->Encode("the", false), ElementsAre('t', 257));
  EXPECT_THAT(tokenizer->Encode(" the", false), ElementsAre(258));
  EXPECT_THAT(tokenizer->Encode("the hello", false), ElementsAre('t', 257, ' ', 257, 259, 'o'));
  // Llama-3's pattern splits digit runs in groups of three.
  EXPECT_THAT(tokenizer->Encode("12345", false), ElementsAre(261, '4', '5'));
  EXPECT_EQ(*tokenizer->Decode({'t', 257, ' ', 257, 259, 'o'}, false), "the hello");
  EXPECT_EQ(*tokenizer->Decode({0xE2}, false), "\xE2");  // a partial character stays bytes
}

TEST(ByteLevelBpeTest, LowestRankFirstThenLeftmost) {
  EXPECT_THAT(Load(ByteLevelBpeJson({{"l", "l"}, {"e", "l"}}))->Encode("ell", false),
              ElementsAre('e', 256));
  EXPECT_THAT(Load(ByteLevelBpeJson({{"e", "l"}, {"l", "l"}}))->Encode("ell", false),
              ElementsAre(256, 'l'));
  EXPECT_THAT(Load(ByteLevelBpeJson({{"l", "l"}}))->Encode("lll", false), ElementsAre(256, 'l'));
}

TEST(ByteLevelBpeTest, MergesAsPairs) {
  Json json = ByteLevelFixture();
  Json pairs = Json::array();
  for (const Json& merge : json["model"]["merges"]) {
    const std::string text = merge.get<std::string>();
    pairs.push_back({text.substr(0, text.find(' ')), text.substr(text.find(' ') + 1)});
  }
  json["model"]["merges"] = pairs;
  EXPECT_THAT(Load(json)->Encode("the hello 123", false),
              ElementsAre('t', 257, ' ', 257, 259, 'o', ' ', 261));
}

TEST(ByteLevelBpeTest, IgnoreMergesEmitsWholeWords) {
  Json json = ByteLevelFixture();
  json["model"]["vocab"][Spell(" hello")] = 300;
  EXPECT_THAT(Load(json)->Encode(" hello", false), ElementsAre(' ', 257, 259, 'o'));
  json["model"]["ignore_merges"] = true;
  EXPECT_THAT(Load(json)->Encode(" hello", false), ElementsAre(300));
}

TEST(ByteLevelBpeTest, SpecialTokensAndPostProcessor) {
  std::unique_ptr<Tokenizer> tokenizer = Load(ByteLevelFixture());
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_THAT(tokenizer->Encode("<|begin_of_text|>the", true), ElementsAre(500, 't', 257));
  const std::vector<std::int32_t> literal = tokenizer->Encode("<|begin_of_text|>the", false);
  EXPECT_THAT(literal, Not(Contains(500)));
  EXPECT_EQ(*tokenizer->Decode(literal, false), "<|begin_of_text|>the");
  EXPECT_THAT(tokenizer->Encode("the", false, /*add_special_tokens=*/true),
              ElementsAre(500, 't', 257));
  EXPECT_TRUE(tokenizer->IsSpecial(500));
  EXPECT_FALSE(tokenizer->IsSpecial(257));
  EXPECT_EQ(*tokenizer->Decode({500, 't', 257, 501}, false), "<|begin_of_text|>the<|end_of_text|>");
  EXPECT_EQ(*tokenizer->Decode({500, 't', 257, 501}, true), "the");
  EXPECT_EQ(tokenizer->Decode({502}, false).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tokenizer->Decode({400}, false).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ByteLevelBpeTest, OtherPostProcessors) {
  Json json = ByteLevelFixture();
  json["post_processor"] = {{"type", "RobertaProcessing"},
                            {"sep", {"<|end_of_text|>", 501}},
                            {"cls", {"<|begin_of_text|>", 500}}};
  EXPECT_THAT(Load(json)->Encode("the", false, true), ElementsAre(500, 't', 257, 501));
  json["post_processor"] = {
      {"type", "Sequence"},
      {"processors", {{{"type", "ByteLevel"}}, ByteLevelFixture()["post_processor"]}}};
  EXPECT_THAT(Load(json)->Encode("the", false, true), ElementsAre(500, 't', 257));
  EXPECT_THAT(Load(json)->Encode("the", false, false), ElementsAre('t', 257));
}

TEST(ByteLevelBpeTest, InvalidUtf8BecomesReplacementCharacters) {
  std::unique_ptr<Tokenizer> tokenizer = Load(ByteLevelFixture());
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->Encode("a\xFF"
                              "b",
                              false),
            tokenizer->Encode("a\xEF\xBF\xBD"
                              "b",
                              false));
  EXPECT_EQ(tokenizer->Encode("\xE2\x82x", false), tokenizer->Encode("\xEF\xBF\xBDx", false));
  EXPECT_THAT(tokenizer->Encode(std::string("a\0b", 3), false), ElementsAre('a', 0, 'b'));
}

TEST(ByteLevelBpeTest, ConcurrentEncodesAgree) {
  std::unique_ptr<Tokenizer> tokenizer = Load(ByteLevelFixture());
  ASSERT_NE(tokenizer, nullptr);
  const std::string text = "the hello 12345 the the hello\n\tworld";
  const std::vector<std::int32_t> expected = tokenizer->Encode(text, false);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) mismatches[t] += tokenizer->Encode(text, false) != expected;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(mismatches, ElementsAre(0, 0, 0, 0));
}

TEST(AddedTokensTest, StripSingleWordAndNonSpecial) {
  Json json = ByteLevelFixture();
  Json mask = AddedTokenJson("<mask>", 600, true);
  mask["lstrip"] = true;
  Json x = AddedTokenJson("[X]", 601, false);
  x["rstrip"] = true;
  Json cat = AddedTokenJson("cat", 602, false);
  cat["single_word"] = true;
  json["added_tokens"].insert(json["added_tokens"].end(), {mask, x, cat});
  std::unique_ptr<Tokenizer> tokenizer = Load(json);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_THAT(tokenizer->Encode("a <mask> b", true), ElementsAre('a', 600, ' ', 'b'));
  EXPECT_THAT(tokenizer->Encode("a <mask> b", false), Not(Contains(600)));
  // Non-special added tokens are matched even when special ones are not.
  EXPECT_THAT(tokenizer->Encode("[X]   y", false), ElementsAre(601, 'y'));
  const std::vector<std::int32_t> cats = tokenizer->Encode("cat concat cats", false);
  EXPECT_EQ(cats.front(), 602);
  EXPECT_EQ(std::count(cats.begin(), cats.end(), 602), 1);
}

TEST(AddedTokensTest, NormalizedTokensMatchNormalizedText) {
  Json json = ByteLevelFixture();
  json["normalizer"] = {{"type", "NFC"}};
  Json e = AddedTokenJson("\xC3\xA9", 600, false);
  e["normalized"] = true;
  json["added_tokens"].push_back(e);
  std::unique_ptr<Tokenizer> tokenizer = Load(json);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_THAT(tokenizer->Encode("e\xCC\x81", false), ElementsAre(600));  // decomposed é
  EXPECT_THAT(tokenizer->Encode("\xC3\xA9", false), ElementsAre(600));
}

TEST(NormalizerTest, UnicodeFormsAndReplace) {
  Json json = ByteLevelFixture();
  json["normalizer"] = {{"type", "NFKC"}};
  std::unique_ptr<Tokenizer> nfkc = Load(json);
  EXPECT_EQ(nfkc->Encode("\xEF\xAC\x81", false), nfkc->Encode("fi", false));  // U+FB01 ligature
  EXPECT_THAT(nfkc->Encode(std::string("a\0b", 3), false), ElementsAre('a', 0, 'b'));
  json["normalizer"] = {
      {"type", "Sequence"},
      {"normalizers",
       {{{"type", "NFD"}},
        {{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", " "}}}}};
  std::unique_ptr<Tokenizer> nfd = Load(json);
  EXPECT_EQ(nfd->Encode("a \t\n b\xC3\xA9", false), nfd->Encode("a be\xCC\x81", false));
}

TEST(SentencePieceBpeTest, EncodesLikeLlama2) {
  std::unique_ptr<Tokenizer> tokenizer = Load(SentencePieceFixture());
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->type_name(), "bpe");
  EXPECT_THAT(tokenizer->Encode("hello world", false),
              ElementsAre(272, 259, 264, 263, 265, 262, 266));
  EXPECT_THAT(tokenizer->Encode("hello", false, /*add_special_tokens=*/true), ElementsAre(1, 272));
  EXPECT_THAT(tokenizer->Encode(" hello", false), ElementsAre(259, 272));
  // byte_fallback: é is not in the vocabulary, its bytes are.
  EXPECT_THAT(tokenizer->Encode("h\xC3\xA9", false), ElementsAre(268, 3 + 0xC3, 3 + 0xA9));
  EXPECT_THAT(tokenizer->Encode("a</s>", true), ElementsAre(259, 267, 2));
  EXPECT_THAT(tokenizer->Encode("a</s>", false),
              ElementsAre(259, 267, 3 + '<', 3 + '/', 3 + 's', 3 + '>'));
}

TEST(SentencePieceBpeTest, UnknownCharacters) {
  Json json = SentencePieceFixture();
  json["model"]["byte_fallback"] = false;
  EXPECT_THAT(Load(json)->Encode("hzz", false), ElementsAre(268, 0));
  json["model"]["fuse_unk"] = false;
  EXPECT_THAT(Load(json)->Encode("hzz", false), ElementsAre(268, 0, 0));
  json["model"]["unk_token"] = nullptr;
  EXPECT_THAT(Load(json)->Encode("hzz", false), ElementsAre(268));
}

TEST(SentencePieceBpeTest, DecodesAndStreams) {
  std::unique_ptr<Tokenizer> tokenizer = Load(SentencePieceFixture());
  ASSERT_NE(tokenizer, nullptr);
  for (const std::string text : {"hello world", " hello", "  hello  ", "h\xC3\xA9", "ahoy"}) {
    const std::vector<std::int32_t> ids = tokenizer->Encode(text, false);
    EXPECT_EQ(*tokenizer->Decode(ids, false), text);
    EXPECT_EQ(Stream(*tokenizer, ids), text);
  }
  // The leading space is dropped at the start of the sequence only.
  EXPECT_EQ(*tokenizer->Decode({272, 272}, false), "hello hello");
  EXPECT_EQ(*tokenizer->Decode({1, 272}, false), "<s> hello");
  EXPECT_EQ(*tokenizer->Decode({1, 272}, true), "hello");
  StreamDecoder stream(*tokenizer);
  EXPECT_EQ(stream.Append(1), "");
  EXPECT_EQ(stream.Append(268), "h");
  EXPECT_EQ(stream.Append(3 + 0xC3), "");
  EXPECT_EQ(stream.Append(3 + 0xA9), "\xC3\xA9");
  EXPECT_EQ(stream.Append(272), " hello");
  EXPECT_EQ(stream.Flush(), "");
}

Json MetaspaceFixture(const std::string& prepend_scheme, bool split) {
  Json json = SentencePieceFixture();
  json["normalizer"] = nullptr;
  json["pre_tokenizer"] = {{"type", "Metaspace"},
                           {"replacement", "\u2581"},
                           {"prepend_scheme", prepend_scheme},
                           {"split", split}};
  json["decoder"] = {{"type", "Metaspace"},
                     {"replacement", "\u2581"},
                     {"prepend_scheme", prepend_scheme},
                     {"split", split}};
  json["model"]["merges"].push_back("\u2581 \u2581");
  json["model"]["vocab"]["\u2581\u2581"] = 273;
  return json;
}

TEST(MetaspaceTest, PrependSchemesAndSplit) {
  std::unique_ptr<Tokenizer> first = Load(MetaspaceFixture("first", true));
  ASSERT_NE(first, nullptr);
  EXPECT_THAT(first->Encode("hello world", false), ElementsAre(272, 259, 264, 263, 265, 262, 266));
  // "first": only the text at the very start of the input gets the ▁.
  EXPECT_THAT(first->Encode("<s>hello", true), ElementsAre(1, 260, 261, 269, 263));
  EXPECT_THAT(Load(MetaspaceFixture("always", true))->Encode("<s>hello", true),
              ElementsAre(1, 272));
  EXPECT_THAT(Load(MetaspaceFixture("never", true))->Encode("hello", false),
              ElementsAre(260, 261, 269, 263));
  // split cuts before every ▁, so "▁▁" can only form without it.
  EXPECT_THAT(first->Encode("a  a", false), Not(Contains(273)));
  EXPECT_THAT(Load(MetaspaceFixture("first", false))->Encode("a  a", false), Contains(273));

  const std::vector<std::int32_t> ids = first->Encode("hello world", false);
  EXPECT_EQ(*first->Decode(ids, false), "hello world");
  EXPECT_EQ(Stream(*first, ids), "hello world");
}

}  // namespace
}  // namespace ghost::testing
