#include "engine/tokenizer/bpe_tokenizer.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/common/utf8.h"
#include "engine/tokenizer/added_tokens.h"
#include "engine/tokenizer/bpe_model.h"
#include "engine/tokenizer/decoders.h"
#include "engine/tokenizer/normalizers.h"
#include "engine/tokenizer/post_processors.h"
#include "engine/tokenizer/pre_tokenizers.h"

namespace ghost::tokenizer {
namespace {

class BpeTokenizer final : public Tokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Create(const JsonReader& json);

  absl::Status AppendDecoded(std::int32_t id, std::size_t position,
                             std::string& out) const override {
    if (!IsToken(id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", id, " is not in the vocabulary (size ", vocab_size(), ")"));
    }
    decoder_->Append(tokens_[id], (flags_[id] & kAdded) != 0, position, out);
    return absl::OkStatus();
  }
  bool IsSpecial(std::int32_t id) const override {
    return IsToken(id) && (flags_[id] & kSpecial) != 0;
  }
  int vocab_size() const override { return static_cast<int>(tokens_.size()); }
  std::string type_name() const override {
    return pre_tokenizer_ != nullptr && pre_tokenizer_->byte_level() ? "byte-level-bpe" : "bpe";
  }

 private:
  enum Flags : std::uint8_t { kPresent = 1, kAdded = 2, kSpecial = 4 };

  std::vector<std::int32_t> DoEncode(std::string_view text, bool parse_special,
                                     bool add_special_tokens) const override;
  bool IsToken(std::int64_t id) const {
    return id >= 0 && id < vocab_size() && (flags_[id] & kPresent) != 0;
  }
  absl::Status ReadAddedTokens(const JsonReader& json, std::int64_t max_id);

  std::unique_ptr<Normalizer> normalizer_;       // may be null
  std::unique_ptr<PreTokenizer> pre_tokenizer_;  // may be null
  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<PostProcessor> post_processor_;  // may be null
  std::unique_ptr<Decoder> decoder_;
  AddedTokenMatcher raw_added_;         // matched in the input as it is
  AddedTokenMatcher normalized_added_;  // matched in normalized text
  std::vector<std::string> tokens_;     // id -> token as the file spells it
  std::vector<std::uint8_t> flags_;     // id -> Flags
};

absl::StatusOr<std::unique_ptr<Tokenizer>> BpeTokenizer::Create(const JsonReader& json) {
  auto tokenizer = std::make_unique<BpeTokenizer>();
  GHOST_ASSIGN_OR_RETURN(const JsonReader model, json.Object("model"));
  GHOST_ASSIGN_OR_RETURN(const std::string type, model.String("type"));
  if (type != "BPE") {
    return json.Unsupported(absl::StrCat("tokenizer type ", type), "BPE, byte-level");
  }
  if (json.Has("normalizer")) {
    GHOST_ASSIGN_OR_RETURN(tokenizer->normalizer_, Normalizer::FromJson(json.Child("normalizer")));
  }
  if (json.Has("pre_tokenizer")) {
    GHOST_ASSIGN_OR_RETURN(tokenizer->pre_tokenizer_,
                           PreTokenizer::FromJson(json.Child("pre_tokenizer")));
  }
  const bool byte_level =
      tokenizer->pre_tokenizer_ != nullptr && tokenizer->pre_tokenizer_->byte_level();
  const std::int64_t max_id = TokenIdBound(json.value());
  std::vector<std::pair<std::string, std::int32_t>> vocab;
  GHOST_ASSIGN_OR_RETURN(tokenizer->model_, BpeModel::FromJson(model, byte_level, max_id, vocab));
  for (auto& [symbol, id] : vocab) {
    if (id >= tokenizer->vocab_size()) {
      tokenizer->tokens_.resize(id + 1);
      tokenizer->flags_.resize(id + 1, 0);
    }
    tokenizer->tokens_[id] = std::move(symbol);
    tokenizer->flags_[id] = kPresent;
  }
  GHOST_RETURN_IF_ERROR(tokenizer->ReadAddedTokens(json, max_id));
  if (json.Has("post_processor")) {
    const BpeTokenizer* self = tokenizer.get();
    GHOST_ASSIGN_OR_RETURN(
        tokenizer->post_processor_,
        PostProcessor::FromJson(json.Child("post_processor"),
                                [self](std::int64_t id) { return self->IsToken(id); }));
  }
  if (json.Has("decoder")) {
    GHOST_ASSIGN_OR_RETURN(tokenizer->decoder_, Decoder::FromJson(json.Child("decoder")));
  } else {
    tokenizer->decoder_ = Decoder::JoinWithSpaces();
  }
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

absl::Status BpeTokenizer::ReadAddedTokens(const JsonReader& json, std::int64_t max_id) {
  if (!json.Has("added_tokens")) return absl::OkStatus();
  GHOST_ASSIGN_OR_RETURN(const std::vector<JsonReader> added, json.Array("added_tokens"));
  std::vector<std::pair<AddedToken, std::string>> raw, normalized;
  for (const JsonReader& item : added) {
    AddedToken token;
    GHOST_ASSIGN_OR_RETURN(token.content, item.String("content"));
    if (token.content.empty()) return item.Error("added token with empty content");
    GHOST_ASSIGN_OR_RETURN(const std::int64_t id, item.Int("id", 0, max_id - 1));
    token.id = static_cast<std::int32_t>(id);
    GHOST_ASSIGN_OR_RETURN(token.special, item.Bool("special", false));
    GHOST_ASSIGN_OR_RETURN(token.lstrip, item.Bool("lstrip", false));
    GHOST_ASSIGN_OR_RETURN(token.rstrip, item.Bool("rstrip", false));
    GHOST_ASSIGN_OR_RETURN(token.single_word, item.Bool("single_word", false));
    GHOST_ASSIGN_OR_RETURN(token.normalized, item.Bool("normalized", !token.special));
    if (id >= vocab_size()) {
      tokens_.resize(id + 1);
      flags_.resize(id + 1, 0);
    }
    // An added token may repeat a vocabulary entry (Llama-2's <s>), never contradict one.
    if ((flags_[id] & kAdded) != 0 ||
        ((flags_[id] & kPresent) != 0 && tokens_[id] != token.content)) {
      return item.Error(absl::StrCat("added token \"", token.content, "\" has id ", id,
                                     ", which is already \"", tokens_[id], "\""));
    }
    tokens_[id] = token.content;
    flags_[id] = kPresent | kAdded | (token.special ? kSpecial : 0);
    if (token.normalized && normalizer_ != nullptr) {
      std::string pattern = normalizer_->Normalize(token.content);
      normalized.emplace_back(std::move(token), std::move(pattern));
    } else {
      std::string pattern = token.content;
      raw.emplace_back(std::move(token), std::move(pattern));
    }
  }
  raw_added_ = AddedTokenMatcher(std::move(raw));
  normalized_added_ = AddedTokenMatcher(std::move(normalized));
  return absl::OkStatus();
}

std::vector<std::int32_t> BpeTokenizer::DoEncode(std::string_view text, bool parse_special,
                                                 bool add_special_tokens) const {
  // Every later step needs valid UTF-8 (the regexes, the normalizer, character splitting).
  std::string repaired;
  if (!IsValidUtf8(text)) {
    std::string buffer(text);
    repaired = TakeValidUtf8(buffer, /*flush=*/true);
    text = repaired;
  }
  std::vector<std::int32_t> ids;
  std::vector<Segment> segments, normalized_segments;
  std::vector<std::string> words;
  raw_added_.Split(text, parse_special, /*at_input_start=*/true, segments);
  for (const Segment& segment : segments) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
      continue;
    }
    const std::string normalized =
        normalizer_ != nullptr ? normalizer_->Normalize(segment.text) : segment.text;
    normalized_segments.clear();
    normalized_added_.Split(normalized, parse_special, segment.at_input_start, normalized_segments);
    for (const Segment& piece : normalized_segments) {
      if (piece.id >= 0) {
        ids.push_back(piece.id);
        continue;
      }
      words.clear();
      if (pre_tokenizer_ != nullptr) {
        pre_tokenizer_->Split(piece.text, piece.at_input_start, words);
      } else {
        words.push_back(piece.text);
      }
      for (const std::string& word : words) model_->Tokenize(word, ids);
    }
  }
  if (add_special_tokens && post_processor_ != nullptr) post_processor_->Apply(ids);
  return ids;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> CreateBpeTokenizer(const Json& json,
                                                              const std::string& source) {
  const JsonReader root(json, source, "");
  if (!json.is_object()) return root.Error("not a JSON object");
  return BpeTokenizer::Create(root);
}

}  // namespace ghost::tokenizer
