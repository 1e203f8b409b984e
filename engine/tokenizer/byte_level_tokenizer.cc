#include "engine/tokenizer/byte_level_tokenizer.h"

#include <algorithm>
#include <array>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/common/status_macros.h"
#include "engine/tokenizer/tokenizer_unicode.h"

namespace ghost::tokenizer {
namespace {

class ByteLevelTokenizer final : public Tokenizer {
 public:
  struct Added {
    std::string content;
    std::int32_t id = 0;
    bool special = false;
  };

  static absl::StatusOr<std::unique_ptr<Tokenizer>> Create(const JsonReader& json);

  absl::Status AppendDecoded(std::int32_t id, std::size_t /*position*/,
                             std::string& out) const override {
    if (id < 0 || id >= vocab_size() || !tokens_[id].has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", id, " is not in the vocabulary (size ", vocab_size(), ")"));
    }
    out += *tokens_[id];
    return absl::OkStatus();
  }
  bool IsSpecial(std::int32_t id) const override {
    return id >= 0 && id < vocab_size() && special_[id];
  }
  int vocab_size() const override { return static_cast<int>(tokens_.size()); }
  std::string type_name() const override { return "byte-level"; }

 private:
  std::vector<std::int32_t> DoEncode(
      std::string_view text, bool parse_special,
      bool /*add_special_tokens: no post-processor*/) const override {
    std::vector<std::int32_t> ids;
    ids.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
      if (const Added* match = MatchAdded(text.substr(i), parse_special)) {
        ids.push_back(match->id);
        i += match->content.size();
      } else {
        ids.push_back(byte_to_id_[static_cast<unsigned char>(text[i])]);
        ++i;
      }
    }
    return ids;
  }

  // The longest added token at the start of `text` that may be matched, or nullptr.
  const Added* MatchAdded(std::string_view text, bool parse_special) const {
    for (const Added& token : added_) {  // sorted longest first
      if ((parse_special || !token.special) && text.starts_with(token.content)) return &token;
    }
    return nullptr;
  }

  absl::Status AddToken(const JsonReader& json, std::int64_t id, std::string bytes, bool special) {
    if (id >= static_cast<std::int64_t>(tokens_.size())) {
      tokens_.resize(id + 1);
      special_.resize(id + 1, false);
    }
    if (tokens_[id].has_value()) {
      return json.Error(absl::StrCat("token id ", id, " is assigned twice"));
    }
    tokens_[id] = std::move(bytes);
    special_[id] = special;
    return absl::OkStatus();
  }

  std::vector<std::optional<std::string>> tokens_;  // id -> bytes
  std::vector<bool> special_;
  std::array<std::int32_t, 256> byte_to_id_{};
  std::vector<Added> added_;
};

absl::StatusOr<std::unique_ptr<Tokenizer>> ByteLevelTokenizer::Create(const JsonReader& json) {
  auto tokenizer = std::make_unique<ByteLevelTokenizer>();
  GHOST_ASSIGN_OR_RETURN(const JsonReader model, json.Object("model"));
  GHOST_ASSIGN_OR_RETURN(const JsonReader vocab, model.Object("vocab"));
  const std::int64_t max_tokens = TokenIdBound(json.value());
  std::array<bool, 256> byte_seen{};
  for (auto it = vocab.value().begin(); it != vocab.value().end(); ++it) {
    std::int64_t id = 0;
    if (!JsonInteger(it.value(), 0, max_tokens - 1, id)) {
      return vocab.Error(
          absl::StrCat("id of \"", it.key(), "\" must be an integer in [0, ", max_tokens, ")"));
    }
    std::optional<std::string> bytes = AlphabetToBytes(it.key());
    if (!bytes) {
      return json.Unsupported(absl::StrCat("byte-level vocabulary symbol \"", it.key(), "\""),
                              "the 256 byte-alphabet symbols");
    }
    if (bytes->size() == 1) {
      const auto b = static_cast<unsigned char>((*bytes)[0]);
      byte_seen[b] = true;
      tokenizer->byte_to_id_[b] = static_cast<std::int32_t>(id);
    }
    GHOST_RETURN_IF_ERROR(tokenizer->AddToken(vocab, id, *std::move(bytes), false));
  }
  for (int b = 0; b < 256; ++b) {
    if (!byte_seen[b]) {
      return vocab.Error(absl::StrFormat("byte-level vocabulary lacks byte 0x%02X", b));
    }
  }

  if (json.Has("added_tokens")) {
    GHOST_ASSIGN_OR_RETURN(const std::vector<JsonReader> added, json.Array("added_tokens"));
    for (const JsonReader& token : added) {
      Added entry;
      GHOST_ASSIGN_OR_RETURN(entry.content, token.String("content"));
      GHOST_ASSIGN_OR_RETURN(const std::int64_t id, token.Int("id", 0, max_tokens - 1));
      GHOST_ASSIGN_OR_RETURN(entry.special, token.Bool("special", false));
      if (entry.content.empty()) return token.Error("added token with empty content");
      entry.id = static_cast<std::int32_t>(id);
      auto& tokens = tokenizer->tokens_;
      // Files often list an added token in the vocabulary too, under the same id.
      if (id < static_cast<std::int64_t>(tokens.size()) && tokens[id] == entry.content) {
        tokenizer->special_[id] = entry.special;
      } else {
        GHOST_RETURN_IF_ERROR(tokenizer->AddToken(token, id, entry.content, entry.special));
      }
      tokenizer->added_.push_back(std::move(entry));
    }
  }
  std::stable_sort(
      tokenizer->added_.begin(), tokenizer->added_.end(),
      [](const Added& a, const Added& b) { return a.content.size() > b.content.size(); });
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

bool IsType(const Json& json, std::string_view key, std::string_view type) {
  const auto it = json.find(key);
  if (it == json.end()) return false;
  const auto type_it = it->is_object() ? it->find("type") : it->end();
  return it->is_object() && type_it != it->end() && type_it->is_string() &&
         type_it->get_ref<const std::string&>() == type;
}

bool IsNull(const Json& json, std::string_view key) {
  const auto it = json.find(key);
  return it == json.end() || it->is_null();
}

}  // namespace

bool IsByteLevelTokenizer(const Json& json) {
  if (!json.is_object() || !IsType(json, "model", "BPE") ||
      !IsType(json, "pre_tokenizer", "ByteLevel") || !IsNull(json, "normalizer") ||
      !(IsNull(json, "decoder") || IsType(json, "decoder", "ByteLevel")) ||
      !(IsNull(json, "post_processor") || IsType(json, "post_processor", "ByteLevel"))) {
    return false;
  }
  const Json& model = json["model"];
  const auto merges = model.find("merges");
  const Json& pre = json["pre_tokenizer"];
  const auto prefix = pre.find("add_prefix_space");
  // add_prefix_space defaults to true, which a byte-per-token encoding cannot do.
  return (merges == model.end() || (merges->is_array() && merges->empty())) &&
         prefix != pre.end() && prefix->is_boolean() && !prefix->get<bool>();
}

absl::StatusOr<std::unique_ptr<Tokenizer>> CreateByteLevelTokenizer(const Json& json,
                                                                    const std::string& source) {
  return ByteLevelTokenizer::Create(JsonReader(json, source, ""));
}

}  // namespace ghost::tokenizer
