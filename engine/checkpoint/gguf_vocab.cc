#include "engine/checkpoint/gguf_vocab.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "nlohmann/json.hpp"

namespace ghost {
namespace {

using Json = nlohmann::json;

// llama.cpp's token types (tokenizer.ggml.token_type).
constexpr std::int64_t kUnknown = 2;
constexpr std::int64_t kControl = 3;
constexpr std::int64_t kUserDefined = 4;

constexpr char kSpace[] = "\xe2\x96\x81";  // U+2581, SentencePiece's space

// The split regexes of the byte-level families, as their tokenizer.json files spell them.
constexpr char kLlama3Split[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr char kQwen2Split[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

absl::Status VocabError(const GgufFile& file, const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat(file.name(), ": ", message));
}

Json ByteLevel(bool use_regex) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", false},
          {"trim_offsets", false},
          {"use_regex", use_regex}};
}

absl::StatusOr<Json> Gpt2PreTokenizer(const GgufFile& file) {
  GHOST_ASSIGN_OR_RETURN(const std::string pre, file.Find("tokenizer.ggml.pre") == nullptr
                                                    ? std::string("default")
                                                    : file.GetString("tokenizer.ggml.pre"));
  const char* split = nullptr;
  if (pre == "default" || pre == "gpt2") return ByteLevel(true);
  if (pre == "llama-bpe" || pre == "llama3") split = kLlama3Split;
  if (pre == "qwen2") split = kQwen2Split;
  if (split == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat(file.name(), ": tokenizer.ggml.pre \"", SanitizedName(pre),
                     "\" is not supported (supported: default, gpt2, llama-bpe, llama3, qwen2)"));
  }
  return Json{{"type", "Sequence"},
              {"pretokenizers",
               {{{"type", "Split"},
                 {"pattern", {{"Regex", split}}},
                 {"behavior", "Isolated"},
                 {"invert", false}},
                ByteLevel(false)}}};
}

// SentencePiece merges from the scores: every split of a piece into two vocabulary pieces,
// ranked by the piece's score (higher first), then by its id.
Json MergesFromScores(const std::vector<std::string>& tokens, const std::vector<float>& scores,
                      const std::vector<std::int64_t>& types) {
  absl::flat_hash_map<std::string, std::size_t> ids;
  for (std::size_t i = 0; i < tokens.size(); ++i) ids.emplace(tokens[i], i);
  std::vector<std::tuple<float, std::size_t, std::size_t>> merges;  // (-score, id, split)
  for (std::size_t id = 0; id < tokens.size(); ++id) {
    if (types[id] == kControl || types[id] == kUnknown) continue;
    const std::string& piece = tokens[id];
    for (std::size_t k = 1; k < piece.size(); ++k) {
      if ((static_cast<unsigned char>(piece[k]) & 0xC0) == 0x80) continue;  // inside a char
      if (ids.contains(piece.substr(0, k)) && ids.contains(piece.substr(k))) {
        merges.emplace_back(-scores[id], id, k);
      }
    }
  }
  std::sort(merges.begin(), merges.end());
  Json out = Json::array();
  for (const auto& [neg_score, id, k] : merges) {
    out.push_back(Json::array({tokens[id].substr(0, k), tokens[id].substr(k)}));
  }
  return out;
}

// nlohmann's value() throws on a type mismatch; these answer the fallback instead.
bool BoolOr(const Json& object, const char* key, bool fallback) {
  return object.contains(key) && object[key].is_boolean() ? object[key].get<bool>() : fallback;
}
std::string StringOr(const Json& object, const char* key) {
  return object.contains(key) && object[key].is_string() ? object[key].get<std::string>() : "";
}

}  // namespace

absl::StatusOr<std::string> GgufTokenizerJson(const GgufFile& file) {
  if (file.Find("tokenizer.huggingface.json") != nullptr) {
    return file.GetString("tokenizer.huggingface.json");
  }
  GHOST_ASSIGN_OR_RETURN(const std::string model, file.GetString("tokenizer.ggml.model"));
  if (model != "gpt2" && model != "llama") {
    return absl::UnimplementedError(absl::StrCat(file.name(), ": tokenizer.ggml.model \"",
                                                 SanitizedName(model),
                                                 "\" is not supported (supported: gpt2, llama)"));
  }
  const bool spm = model == "llama";
  GHOST_ASSIGN_OR_RETURN(const std::vector<std::string> tokens,
                         file.GetStringArray("tokenizer.ggml.tokens"));
  std::vector<std::int64_t> types(tokens.size(), 1);
  if (file.Find("tokenizer.ggml.token_type") != nullptr) {
    GHOST_ASSIGN_OR_RETURN(types, file.GetIntArray("tokenizer.ggml.token_type"));
    if (types.size() != tokens.size()) {
      return VocabError(file, absl::StrCat("tokenizer.ggml.token_type has ", types.size(),
                                           " entries for ", tokens.size(), " tokens"));
    }
  }

  Json vocab = Json::object();
  Json added = Json::array();
  std::optional<std::string> unk;
  for (std::size_t id = 0; id < tokens.size(); ++id) {
    if (!vocab.contains(tokens[id])) vocab[tokens[id]] = id;
    if (types[id] == kUnknown) unk = tokens[id];
    if (types[id] == kUnknown || types[id] == kControl || types[id] == kUserDefined) {
      const bool special = types[id] != kUserDefined;
      added.push_back({{"id", id},
                       {"content", tokens[id]},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", false},
                       {"special", special}});
    }
  }

  Json bpe = {{"type", "BPE"}, {"dropout", nullptr}, {"vocab", vocab}, {"byte_fallback", spm}};
  bpe["unk_token"] = unk ? Json(*unk) : Json(nullptr);
  Json doc = {
      {"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", added}};
  if (spm) {
    std::vector<float> scores(tokens.size(), 0.0f);
    if (file.Find("tokenizer.ggml.scores") != nullptr) {
      GHOST_ASSIGN_OR_RETURN(scores, file.GetRealArray("tokenizer.ggml.scores"));
      if (scores.size() != tokens.size()) {
        return VocabError(file, absl::StrCat("tokenizer.ggml.scores has ", scores.size(),
                                             " entries for ", tokens.size(), " tokens"));
      }
    }
    bpe["merges"] = MergesFromScores(tokens, scores, types);
    GHOST_ASSIGN_OR_RETURN(const bool prefix,
                           file.GetOptionalBool("tokenizer.ggml.add_space_prefix", true));
    Json replace = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}};
    doc["normalizer"] =
        prefix ? Json{{"type", "Sequence"},
                      {"normalizers", {{{"type", "Prepend"}, {"prepend", kSpace}}, replace}}}
               : replace;
    doc["pre_tokenizer"] = nullptr;
    Json decoders = {{{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}},
                     {{"type", "ByteFallback"}},
                     {{"type", "Fuse"}}};
    if (prefix)
      decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
    doc["decoder"] = {{"type", "Sequence"}, {"decoders", decoders}};
  } else {
    std::vector<std::string> merges;
    if (file.Find("tokenizer.ggml.merges") != nullptr) {
      GHOST_ASSIGN_OR_RETURN(merges, file.GetStringArray("tokenizer.ggml.merges"));
    }
    bpe["merges"] = merges;
    doc["normalizer"] = nullptr;
    GHOST_ASSIGN_OR_RETURN(doc["pre_tokenizer"], Gpt2PreTokenizer(file));
    doc["decoder"] = ByteLevel(true);
  }
  doc["model"] = bpe;

  GHOST_ASSIGN_OR_RETURN(const bool add_bos,
                         file.GetOptionalBool("tokenizer.ggml.add_bos_token", spm));
  doc["post_processor"] = nullptr;
  if (add_bos && file.Find("tokenizer.ggml.bos_token_id") != nullptr) {
    GHOST_ASSIGN_OR_RETURN(const std::int64_t bos, file.GetInt("tokenizer.ggml.bos_token_id"));
    if (bos < 0 || static_cast<std::size_t>(bos) >= tokens.size()) {
      return VocabError(file,
                        absl::StrCat("tokenizer.ggml.bos_token_id ", bos, " is not a token id"));
    }
    const std::string& name = tokens[bos];
    doc["post_processor"] = {
        {"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", name}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"pair",
         {{{"SpecialToken", {{"id", name}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
        {"special_tokens", {{name, {{"id", name}, {"ids", {bos}}, {"tokens", {name}}}}}}};
  }
  // Invalid UTF-8 in a token becomes U+FFFD instead of an exception.
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

absl::Status AddTokenizerMetadata(const std::string& tokenizer_json, std::int64_t bos,
                                  std::int64_t eos, GgufWriter& writer) {
  const Json doc = Json::parse(tokenizer_json, nullptr, /*allow_exceptions=*/false);
  const auto malformed = [](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer.json: ", what));
  };
  if (!doc.is_object() || !doc.contains("model") || !doc["model"].is_object()) {
    return malformed("no model object");
  }
  const Json& model = doc["model"];
  if (StringOr(model, "type") != "BPE") {
    return absl::UnimplementedError("tokenizer.json: only BPE models can be written to GGUF");
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) return malformed("no vocab");
  // id -> (token, type); ids are bounded by the document's size, so the vector is too.
  std::vector<std::pair<std::string, std::int32_t>> tokens;
  const auto place = [&](std::int64_t id, const std::string& token, std::int32_t type) {
    if (id < 0 || id > static_cast<std::int64_t>(tokenizer_json.size())) return false;
    if (static_cast<std::size_t>(id) >= tokens.size()) tokens.resize(id + 1, {"", -1});
    tokens[id] = {token, type};
    return true;
  };
  const bool byte_fallback = BoolOr(model, "byte_fallback", false);
  for (const auto& [token, id] : model["vocab"].items()) {
    const bool byte_token = byte_fallback && token.size() == 6 && token.rfind("<0x", 0) == 0;
    if (!id.is_number_integer() || !place(id.get<std::int64_t>(), token, byte_token ? 6 : 1)) {
      return malformed(absl::StrCat("vocab entry \"", SanitizedName(token), "\" has a bad id"));
    }
  }
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    const auto it = model["vocab"].find(model["unk_token"].get<std::string>());
    if (it != model["vocab"].end() && it->is_number_integer()) {
      tokens[it->get<std::int64_t>()].second = static_cast<std::int32_t>(kUnknown);
    }
  }
  if (doc.contains("added_tokens") && doc["added_tokens"].is_array()) {
    for (const Json& added : doc["added_tokens"]) {
      if (!added.is_object() || !added.contains("id") || !added["id"].is_number_integer() ||
          !added.contains("content") || !added["content"].is_string()) {
        return malformed("bad added_tokens entry");
      }
      const auto type =
          static_cast<std::int32_t>(BoolOr(added, "special", false) ? kControl : kUserDefined);
      if (!place(added["id"].get<std::int64_t>(), added["content"].get<std::string>(), type)) {
        return malformed("bad added_tokens id");
      }
    }
  }
  std::vector<std::string> names(tokens.size());
  std::vector<std::int32_t> types(tokens.size());
  std::vector<float> scores(tokens.size());
  for (std::size_t id = 0; id < tokens.size(); ++id) {
    const bool hole = tokens[id].second < 0;
    names[id] = hole ? absl::StrCat("[PAD", id, "]") : tokens[id].first;
    types[id] = hole ? 5 : tokens[id].second;
    scores[id] = -static_cast<float>(id);
  }
  writer.SetString("tokenizer.ggml.model", byte_fallback ? "llama" : "gpt2");
  writer.SetStringArray("tokenizer.ggml.tokens", names);
  writer.SetI32Array("tokenizer.ggml.token_type", types);
  if (byte_fallback) {
    writer.SetF32Array("tokenizer.ggml.scores", scores);
  } else {
    std::vector<std::string> merges;
    if (model.contains("merges") && model["merges"].is_array()) {
      for (const Json& merge : model["merges"]) {
        if (merge.is_string()) {
          merges.push_back(merge.get<std::string>());
        } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
                   merge[1].is_string()) {
          merges.push_back(merge[0].get<std::string>() + " " + merge[1].get<std::string>());
        } else {
          return malformed("bad merge");
        }
      }
    }
    writer.SetStringArray("tokenizer.ggml.merges", merges);
    const std::string pre = doc.contains("pre_tokenizer") ? doc["pre_tokenizer"].dump() : "";
    const auto uses = [&pre](const char* regex) {
      return pre.find(Json(regex).dump()) != std::string::npos;
    };
    writer.SetString("tokenizer.ggml.pre", uses(kLlama3Split)  ? "llama-bpe"
                                           : uses(kQwen2Split) ? "qwen2"
                                                               : "default");
  }
  if (bos >= 0) writer.SetU32("tokenizer.ggml.bos_token_id", static_cast<std::uint32_t>(bos));
  if (eos >= 0) writer.SetU32("tokenizer.ggml.eos_token_id", static_cast<std::uint32_t>(eos));
  // The BOS is added when the post-processor's template starts with a special token.
  bool add_bos = false;
  if (doc.contains("post_processor") && doc["post_processor"].is_object()) {
    const Json& processor = doc["post_processor"];
    add_bos = processor.contains("single") && processor["single"].is_array() &&
              !processor["single"].empty() && processor["single"][0].is_object() &&
              processor["single"][0].contains("SpecialToken");
  }
  writer.SetBool("tokenizer.ggml.add_bos_token", add_bos);
  writer.SetString("tokenizer.huggingface.json", tokenizer_json);
  return absl::OkStatus();
}

}  // namespace ghost
