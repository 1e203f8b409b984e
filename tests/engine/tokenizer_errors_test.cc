// Malformed and unsupported tokenizer.json files (TESTPLAN A3): each gets its own clear error
// naming the file and the field, none crashes.
#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/tokenizer_test_util.h"

namespace ghost::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct BadFile {
  std::string name;
  std::function<void(Json&)> edit;
  absl::StatusCode code;
  std::string message;  // a substring of the error
};

Json Nested(const std::string& kind, const std::string& list_key, const Json& leaf, int depth) {
  Json json = leaf;
  for (int i = 0; i < depth; ++i) json = {{"type", kind}, {list_key, Json::array({json})}};
  return json;
}

std::vector<BadFile> BadFiles() {
  using absl::StatusCode;
  const Json nfc = {{"type", "NFC"}};
  return {
      {"model missing", [](Json& j) { j.erase("model"); }, StatusCode::kInvalidArgument,
       "t.json: \"model\" must be an object"},
      {"model type", [](Json& j) { j["model"]["type"] = "Unigram"; }, StatusCode::kUnimplemented,
       "t.json: tokenizer type Unigram not supported (supported: BPE, byte-level)"},
      {"model type not a string", [](Json& j) { j["model"]["type"] = 7; },
       StatusCode::kInvalidArgument, "t.json: model: \"type\" must be a string"},
      {"vocab not an object", [](Json& j) { j["model"]["vocab"] = Json::array(); },
       StatusCode::kInvalidArgument, "t.json: model: \"vocab\" must be an object"},
      {"vocab id not an integer", [](Json& j) { j["model"]["vocab"][Spell("x")] = "7"; },
       StatusCode::kInvalidArgument, "t.json: model.vocab: id of \"x\" must be an integer"},
      {"vocab id negative", [](Json& j) { j["model"]["vocab"]["zz"] = -1; },
       StatusCode::kInvalidArgument, "id of \"zz\" must be an integer in [0, "},
      {"vocab id huge", [](Json& j) { j["model"]["vocab"]["zz"] = 1e15; },
       StatusCode::kInvalidArgument, "id of \"zz\" must be an integer in [0, "},
      {"vocab id far past the file's size", [](Json& j) { j["model"]["vocab"]["zz"] = 100000000; },
       StatusCode::kInvalidArgument, "for a file of this size"},
      {"duplicate id", [](Json& j) { j["model"]["vocab"]["zz"] = 5; }, StatusCode::kInvalidArgument,
       "id 5 is given to two tokens"},
      {"merges not a list", [](Json& j) { j["model"]["merges"] = "a b"; },
       StatusCode::kInvalidArgument, "t.json: model: \"merges\" must be a list"},
      {"merge not a pair", [](Json& j) { j["model"]["merges"][1] = 12; },
       StatusCode::kInvalidArgument, "t.json: model.merges[1]: 12 is not \"a b\""},
      {"merge with three parts", [](Json& j) { j["model"]["merges"][0] = "a b c"; },
       StatusCode::kInvalidArgument, "model.merges[0]: a string of 5 bytes is not \"a b\""},
      {"merge of unknown tokens", [](Json& j) { j["model"]["merges"].push_back("x zz"); },
       StatusCode::kInvalidArgument, "uses or makes a token not in the vocabulary"},
      {"unk token not in vocab", [](Json& j) { j["model"]["unk_token"] = "<unk>"; },
       StatusCode::kInvalidArgument, "unk_token \"<unk>\" is not in the vocabulary"},
      {"dropout", [](Json& j) { j["model"]["dropout"] = 0.1; }, StatusCode::kUnimplemented,
       "t.json: BPE dropout not supported"},
      {"suffix", [](Json& j) { j["model"]["end_of_word_suffix"] = "</w>"; },
       StatusCode::kUnimplemented, "BPE end_of_word_suffix not supported"},
      {"added tokens not a list",
       [](Json& j) {
         j["added_tokens"] = {{"a", 1}};
       },
       StatusCode::kInvalidArgument, "t.json: \"added_tokens\" must be a list"},
      {"added token without content", [](Json& j) { j["added_tokens"][1].erase("content"); },
       StatusCode::kInvalidArgument, "t.json: added_tokens[1]: \"content\" must be a string"},
      {"added token with a bad flag", [](Json& j) { j["added_tokens"][0]["lstrip"] = 1; },
       StatusCode::kInvalidArgument, "added_tokens[0]: \"lstrip\" must be true or false"},
      {"added token id out of range", [](Json& j) { j["added_tokens"][0]["id"] = -3; },
       StatusCode::kInvalidArgument, "added_tokens[0]: \"id\" must be an integer in [0, "},
      {"added token over a vocabulary token", [](Json& j) { j["added_tokens"][0]["id"] = 65; },
       StatusCode::kInvalidArgument, "has id 65, which is already \"A\""},
      {"added token twice", [](Json& j) { j["added_tokens"][1]["id"] = 500; },
       StatusCode::kInvalidArgument, "has id 500, which is already \"<|begin_of_text|>\""},
      {"normalizer",
       [](Json& j) {
         j["normalizer"] = {{"type", "Lowercase"}};
       },
       StatusCode::kUnimplemented,
       "t.json: normalizer Lowercase not supported (supported: NFC, NFD, NFKC, NFKD, Prepend, "
       "Replace, Sequence)"},
      {"normalizer not an object", [](Json& j) { j["normalizer"] = "NFC"; },
       StatusCode::kInvalidArgument, "t.json: normalizer: \"type\" must be a string"},
      {"normalizers nested too deeply",
       [nfc](Json& j) { j["normalizer"] = Nested("Sequence", "normalizers", nfc, 40); },
       StatusCode::kInvalidArgument, "normalizers nested too deeply"},
      {"pre-tokenizer",
       [](Json& j) {
         j["pre_tokenizer"] = {{"type", "Whitespace"}};
       },
       StatusCode::kUnimplemented,
       "t.json: pre-tokenizer Whitespace not supported (supported: ByteLevel, Metaspace, Split, "
       "Sequence)"},
      {"pre-tokenizer after ByteLevel",
       [](Json& j) {
         j["pre_tokenizer"]["pretokenizers"].push_back({{"type", "Metaspace"}});
       },
       StatusCode::kUnimplemented, "pre-tokenizer Metaspace after ByteLevel not supported"},
      {"bad regex",
       [](Json& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(a"; },
       StatusCode::kInvalidArgument,
       "t.json: pre_tokenizer.pretokenizers[0].pattern: regex \"(a\" is invalid at offset 2"},
      {"pattern of both kinds",
       [](Json& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["String"] = "x"; },
       StatusCode::kInvalidArgument, "needs exactly one of \"String\" and \"Regex\""},
      {"split behavior",
       [](Json& j) { j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Contiguous"; },
       StatusCode::kUnimplemented, "Split behavior Contiguous not supported"},
      {"metaspace scheme",
       [](Json& j) {
         j["pre_tokenizer"] = {{"type", "Metaspace"}, {"prepend_scheme", "odd"}};
       },
       StatusCode::kUnimplemented, "Metaspace prepend_scheme odd not supported"},
      {"decoder",
       [](Json& j) {
         j["decoder"] = {{"type", "WordPiece"}};
       },
       StatusCode::kUnimplemented, "t.json: decoder WordPiece not supported"},
      {"decoder after Fuse",
       [](Json& j) {
         j["decoder"] = {{"type", "Sequence"},
                         {"decoders", {{{"type", "Fuse"}}, {{"type", "ByteFallback"}}}}};
       },
       StatusCode::kUnimplemented, "decoder ByteFallback after Fuse not supported"},
      {"strip of two characters",
       [](Json& j) {
         j["decoder"] = {{"type", "Strip"}, {"content", "ab"}, {"start", 1}};
       },
       StatusCode::kInvalidArgument, "t.json: decoder: \"content\" must be one character"},
      {"post-processor",
       [](Json& j) {
         j["post_processor"] = {{"type", "Magic"}};
       },
       StatusCode::kUnimplemented, "t.json: post-processor Magic not supported"},
      {"template id not in vocab",
       [](Json& j) { j["post_processor"]["special_tokens"]["<|begin_of_text|>"]["ids"] = {9999}; },
       StatusCode::kInvalidArgument, "must be an id in the vocabulary"},
      {"template names an unknown token",
       [](Json& j) { j["post_processor"]["single"][0]["SpecialToken"]["id"] = "<x>"; },
       StatusCode::kInvalidArgument, "\"<x>\" is not in special_tokens"},
      {"template without A", [](Json& j) { j["post_processor"]["single"].erase(1); },
       StatusCode::kInvalidArgument, "the single template has no sequence A"},
      {"roberta without cls",
       [](Json& j) {
         j["post_processor"] = {{"type", "RobertaProcessing"}, {"sep", {"x", 1}}};
       },
       StatusCode::kInvalidArgument, "\"cls\" must be [token, id]"},
  };
}

TEST(TokenizerErrorsTest, EachBadFileGetsItsOwnError) {
  for (const BadFile& bad : BadFiles()) {
    SCOPED_TRACE(bad.name);
    Json json = ByteLevelBpeJson({{"a", "b"}, {"ab", "c"}});
    bad.edit(json);
    const absl::StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromJson(json.dump(), "t.json");
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), bad.code) << t.status();
    EXPECT_THAT(std::string(t.status().message()), StartsWith("t.json: "));
    EXPECT_THAT(std::string(t.status().message()), HasSubstr(bad.message));
  }
}

TEST(TokenizerErrorsTest, NotJson) {
  for (const std::string text : {"", "{", "[1, 2]", "null", "{\"model\": {} } x", "\"\xFF\""}) {
    SCOPED_TRACE(text);
    const absl::StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromJson(text, "t.json");
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(t.status().message()), StartsWith("t.json: "));
  }
}

TEST(TokenizerErrorsTest, LargeMergeListLoads) {
  // 100,000 merges "a q<i>" (Llama-3 has 280,000): read without a per-item cost beyond the map.
  Json json = ByteLevelBpeJson({});
  Json& vocab = json["model"]["vocab"];
  Json merges = Json::array();
  int next = 600;
  for (int i = 0; i < 100000; ++i) {
    const std::string right = "q" + std::to_string(i);
    vocab[right] = next++;
    vocab["a" + right] = next++;
    merges.push_back("a " + right);
  }
  json["model"]["merges"] = merges;
  const absl::StatusOr<std::unique_ptr<Tokenizer>> t = Tokenizer::FromJson(json.dump(), "t.json");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->Decode((*t)->Encode("a q12 aq", false), false).value(), "a q12 aq");
}

}  // namespace
}  // namespace ghost::testing
