// The byte-level tokenizer: every byte is one token (the GPT-2 byte-to-unicode alphabet as the
// vocabulary, no merges), plus added/special tokens matched literally.
#include "engine/model/tokenizer.h"

#include <algorithm>
#include <array>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/common/file.h"
#include "engine/common/json.h"

namespace ghost {
namespace {

using Json = nlohmann::json;

// GPT-2's bytes_to_unicode(): printable bytes map to themselves, the others to U+0100 onwards.
std::array<char32_t, 256> ByteToCodepoint() {
  std::array<char32_t, 256> table{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    table[b] = printable ? static_cast<char32_t>(b) : next++;
  }
  return table;
}

// Decodes one UTF-8 character at text[i], advancing i; nullopt on malformed input.
std::optional<char32_t> NextCodepoint(std::string_view text, size_t& i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  const int length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  if (i + length > text.size()) return std::nullopt;
  char32_t cp = length == 1 ? lead : lead & (0x3F >> (length - 1));
  for (int k = 1; k < length; ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
  i += length;
  return cp;
}

absl::Status Unsupported(const std::string& source, absl::string_view type) {
  return absl::UnimplementedError(absl::StrCat(source, ": tokenizer type ", type,
                                               " not supported yet (supported: byte-level)"));
}

absl::Status Invalid(const std::string& source, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", message));
}

class ByteLevelTokenizer final : public Tokenizer {
 public:
  struct AddedToken {
    std::string content;
    std::int32_t id = 0;
    bool special = false;
  };

  static absl::StatusOr<std::unique_ptr<Tokenizer>> Create(const Json& json,
                                                           const std::string& source);

  std::vector<std::int32_t> Encode(std::string_view text, bool parse_special) const override {
    std::vector<std::int32_t> ids;
    ids.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
      const AddedToken* match = MatchAdded(text.substr(i), parse_special);
      if (match != nullptr) {
        ids.push_back(match->id);
        i += match->content.size();
      } else {
        ids.push_back(byte_to_id_[static_cast<unsigned char>(text[i])]);
        ++i;
      }
    }
    return ids;
  }

  absl::StatusOr<std::string> Decode(absl::Span<const std::int32_t> ids,
                                     bool skip_special) const override {
    std::string out;
    for (std::int32_t id : ids) {
      if (id < 0 || id >= vocab_size() || !tokens_[id].has_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat("token id ", id, " is not in the vocabulary (size ", vocab_size(), ")"));
      }
      if (skip_special && special_[id]) continue;
      out += *tokens_[id];
    }
    return out;
  }

  bool IsSpecial(std::int32_t id) const override {
    return id >= 0 && id < vocab_size() && special_[id];
  }
  int vocab_size() const override { return static_cast<int>(tokens_.size()); }
  std::string type_name() const override { return "byte-level"; }

 private:
  // The longest added token at the start of `text` that may be matched, or nullptr.
  const AddedToken* MatchAdded(std::string_view text, bool parse_special) const {
    for (const AddedToken& token : added_) {  // sorted longest first
      if ((parse_special || !token.special) &&
          text.substr(0, token.content.size()) == token.content) {
        return &token;
      }
    }
    return nullptr;
  }

  absl::Status AddToken(const std::string& source, std::int64_t id, std::string bytes,
                        bool special) {
    if (id < 0 || id >= (std::int64_t{1} << 24)) {
      return Invalid(source, absl::StrCat("token id ", id, " out of range"));
    }
    if (id >= static_cast<std::int64_t>(tokens_.size())) {
      tokens_.resize(id + 1);
      special_.resize(id + 1, false);
    }
    if (tokens_[id].has_value()) {
      return Invalid(source, absl::StrCat("token id ", id, " is assigned twice"));
    }
    tokens_[id] = std::move(bytes);
    special_[id] = special;
    return absl::OkStatus();
  }

  std::vector<std::optional<std::string>> tokens_;  // id -> bytes
  std::vector<bool> special_;
  std::array<std::int32_t, 256> byte_to_id_{};
  std::vector<AddedToken> added_;
};

absl::Status CheckByteLevelModel(const Json& json, const std::string& source) {
  if (!json.contains("model") || !json["model"].is_object()) {
    return Invalid(source, "missing \"model\" object");
  }
  const Json& model = json["model"];
  const std::string type =
      model.contains("type") && model["type"].is_string() ? model["type"].get<std::string>() : "?";
  if (type != "BPE") return Unsupported(source, type);
  if (model.contains("merges") && model["merges"].is_array() && !model["merges"].empty()) {
    return Unsupported(source, absl::StrCat("BPE (with ", model["merges"].size(), " merges)"));
  }
  const Json* pre = json.contains("pre_tokenizer") ? &json["pre_tokenizer"] : nullptr;
  if (pre == nullptr || !pre->is_object() || !pre->contains("type") ||
      (*pre)["type"] != "ByteLevel") {
    return Unsupported(source, "BPE without a ByteLevel pre-tokenizer");
  }
  if (pre->value("add_prefix_space", false)) {
    return Unsupported(source, "ByteLevel with add_prefix_space");
  }
  if (json.contains("normalizer") && !json["normalizer"].is_null()) {
    return Unsupported(source, "BPE with a normalizer");
  }
  if (!model.contains("vocab") || !model["vocab"].is_object()) {
    return Invalid(source, "model.vocab must be an object mapping symbols to ids");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Tokenizer>> ByteLevelTokenizer::Create(const Json& json,
                                                                      const std::string& source) {
  if (!json.is_object()) return Invalid(source, "not a JSON object");
  if (absl::Status s = CheckByteLevelModel(json, source); !s.ok()) return s;
  auto tokenizer = std::make_unique<ByteLevelTokenizer>();

  absl::flat_hash_map<char32_t, unsigned char> codepoint_to_byte;
  const std::array<char32_t, 256> byte_to_codepoint = ByteToCodepoint();
  for (int b = 0; b < 256; ++b) codepoint_to_byte[byte_to_codepoint[b]] = b;

  std::array<bool, 256> byte_seen{};
  for (const auto& [symbol, id] : json["model"]["vocab"].items()) {
    if (!id.is_number_integer()) {
      return Invalid(source, absl::StrCat("vocab id of \"", symbol, "\" is not an integer"));
    }
    std::string bytes;
    for (size_t i = 0; i < symbol.size();) {
      const std::optional<char32_t> cp = NextCodepoint(symbol, i);
      const auto it = cp ? codepoint_to_byte.find(*cp) : codepoint_to_byte.end();
      if (it == codepoint_to_byte.end()) {
        return Unsupported(source, absl::StrCat("BPE with non-byte symbol \"", symbol, "\""));
      }
      bytes.push_back(static_cast<char>(it->second));
    }
    if (bytes.size() == 1) {
      const auto b = static_cast<unsigned char>(bytes[0]);
      byte_seen[b] = true;
      tokenizer->byte_to_id_[b] = id.get<std::int32_t>();
    }
    if (absl::Status s = tokenizer->AddToken(source, id.get<std::int64_t>(), bytes, false);
        !s.ok()) {
      return s;
    }
  }
  for (int b = 0; b < 256; ++b) {
    if (!byte_seen[b]) {
      return Invalid(source, absl::StrFormat("byte-level vocabulary lacks byte 0x%02X", b));
    }
  }

  if (json.contains("added_tokens") && !json["added_tokens"].is_null()) {
    if (!json["added_tokens"].is_array()) return Invalid(source, "added_tokens must be a list");
    for (const Json& token : json["added_tokens"]) {
      if (!token.is_object() || !token.contains("id") || !token["id"].is_number_integer() ||
          !token.contains("content") || !token["content"].is_string()) {
        return Invalid(source, absl::StrCat("malformed added token ", JsonSnippet(token)));
      }
      AddedToken added{token["content"].get<std::string>(), token["id"].get<std::int32_t>(),
                       token.value("special", false)};
      if (added.content.empty()) return Invalid(source, "added token with empty content");
      auto& tokens = tokenizer->tokens_;
      // Files often list an added token in the vocabulary too, under the same id.
      if (added.id >= 0 && added.id < static_cast<std::int32_t>(tokens.size()) &&
          tokens[added.id] == added.content) {
        tokenizer->special_[added.id] = added.special;
      } else if (absl::Status s =
                     tokenizer->AddToken(source, added.id, added.content, added.special);
                 !s.ok()) {
        return s;
      }
      tokenizer->added_.push_back(std::move(added));
    }
  }
  std::stable_sort(
      tokenizer->added_.begin(), tokenizer->added_.end(),
      [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromFile(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadFileToString(path);
  if (!contents.ok()) return contents.status();
  return FromJson(*contents, path);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(std::string_view json,
                                                               const std::string& source_name) {
  absl::StatusOr<Json> parsed = ParseJsonStrict(json, source_name);
  if (!parsed.ok()) return parsed.status();
  return ByteLevelTokenizer::Create(*parsed, source_name);
}

}  // namespace ghost
