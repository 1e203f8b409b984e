// Small hand-made tokenizer.json files for the tokenizer unit tests, small enough that the
// expected ids can be worked out by hand.
#ifndef GHOST_TESTS_ENGINE_TOKENIZER_TEST_UTIL_H_
#define GHOST_TESTS_ENGINE_TOKENIZER_TEST_UTIL_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/tokenizer_unicode.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ghost::testing {

using Json = nlohmann::json;

// Llama-3's pre-tokenizer pattern.
inline constexpr char kLlama3Pattern[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// `bytes` spelled in the GPT-2 byte alphabet, as byte-level vocabularies write tokens.
inline std::string Spell(std::string_view bytes) {
  std::string out;
  for (unsigned char b : bytes) tokenizer::AppendUtf8(tokenizer::ByteAlphabet()[b], out);
  return out;
}

inline Json AddedTokenJson(const std::string& content, int id, bool special) {
  return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", special}};
}

// Byte-level BPE in the Llama-3 layout: ids 0-255 are the bytes, then one token per merge
// (merges given as pairs of byte strings), Split + ByteLevel pre-tokenizers, ByteLevel decoder.
inline Json ByteLevelBpeJson(const std::vector<std::pair<std::string, std::string>>& merges) {
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b) vocab[Spell(std::string(1, static_cast<char>(b)))] = b;
  Json merge_list = Json::array();
  int next = 256;
  for (const auto& [left, right] : merges) {
    merge_list.push_back(Spell(left) + " " + Spell(right));
    vocab[Spell(left + right)] = next++;
  }
  return {
      {"version", "1.0"},
      {"added_tokens", Json::array({AddedTokenJson("<|begin_of_text|>", 500, true),
                                    AddedTokenJson("<|end_of_text|>", 501, true)})},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"},
           {"pattern", {{"Regex", kLlama3Pattern}}},
           {"behavior", "Isolated"},
           {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<|begin_of_text|>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"pair", Json::array()},
        {"special_tokens",
         {{"<|begin_of_text|>",
           {{"id", "<|begin_of_text|>"}, {"ids", {500}}, {"tokens", {"<|begin_of_text|>"}}}}}}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", merge_list}}},
  };
}

// SentencePiece-style BPE in the Llama-2 layout: <unk> <s> </s>, the 256 <0xXX> byte tokens
// (ids 3-258), then `symbols` (from 259) and the merges' results. Normalizer Prepend("▁") +
// Replace(" ", "▁"), byte_fallback, decoder [Replace, ByteFallback, Fuse, Strip].
inline Json SentencePieceJson(const std::vector<std::string>& symbols,
                              const std::vector<std::pair<std::string, std::string>>& merges) {
  Json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) vocab[absl::StrFormat("<0x%02X>", b)] = 3 + b;
  int next = 259;
  for (const std::string& symbol : symbols) vocab[symbol] = next++;
  Json merge_list = Json::array();
  for (const auto& [left, right] : merges) {
    merge_list.push_back(left + " " + right);
    if (!vocab.contains(left + right)) vocab[left + right] = next++;
  }
  const Json replace_space = {
      {"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}};
  return {
      {"version", "1.0"},
      {"added_tokens",
       Json::array({AddedTokenJson("<unk>", 0, true), AddedTokenJson("<s>", 1, true),
                    AddedTokenJson("</s>", 2, true)})},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers", {{{"type", "Prepend"}, {"prepend", "\u2581"}}, replace_space}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "<unk>"},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"vocab", vocab},
        {"merges", merge_list}}},
  };
}

inline std::unique_ptr<Tokenizer> Load(const Json& json) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::FromJson(json.dump(), "t.json");
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? *std::move(tokenizer) : nullptr;
}

// The concatenated deltas of a StreamDecoder fed `ids`.
inline std::string Stream(const Tokenizer& tokenizer, const std::vector<std::int32_t>& ids) {
  StreamDecoder decoder(tokenizer);
  std::string out;
  for (std::int32_t id : ids) out += decoder.Append(id);
  return out + decoder.Flush();
}

}  // namespace ghost::testing

#endif  // GHOST_TESTS_ENGINE_TOKENIZER_TEST_UTIL_H_
