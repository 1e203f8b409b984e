#include "engine/tokenizer/bpe_model.h"

#include <algorithm>
#include <queue>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/common/json.h"
#include "engine/common/status_macros.h"
#include "engine/tokenizer/tokenizer_unicode.h"

namespace ghost::tokenizer {
namespace {

constexpr std::size_t kCacheCapacity = 1 << 14;
constexpr std::size_t kMaxCachedWordBytes = 256;

// A candidate merge of the symbol at `pos` with its right neighbour.
struct Candidate {
  std::int32_t rank;
  std::int32_t pos;
  std::int32_t merged_id;
  // The queue pops the lowest rank first, then the leftmost position, as the Rust BPE does.
  bool operator<(const Candidate& other) const {
    return rank != other.rank ? rank > other.rank : pos > other.pos;
  }
};

// A merge is "a b" (older files) or ["a", "b"] (newer ones).
bool ParseMerge(const Json& value, std::string& left, std::string& right) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    const std::size_t space = text.find(' ');
    if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) return false;
    left = text.substr(0, space);
    right = text.substr(space + 1);
    return true;
  }
  if (value.is_array() && value.size() == 2 && value[0].is_string() && value[1].is_string()) {
    left = value[0].get<std::string>();
    right = value[1].get<std::string>();
    return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::FromJson(
    const JsonReader& json, bool byte_level, std::int64_t max_id,
    std::vector<std::pair<std::string, std::int32_t>>& vocab) {
  auto model = std::unique_ptr<BpeModel>(new BpeModel());
  model->byte_level_ = byte_level;
  if (json.Has("dropout")) {
    const Json& dropout = json.Child("dropout").value();
    if (!dropout.is_number() || dropout.get<double>() != 0.0) {
      return json.Unsupported("BPE dropout", "null or 0");
    }
  }
  for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    GHOST_ASSIGN_OR_RETURN(const std::string value, json.String(affix, ""));
    if (!value.empty()) return json.Unsupported(absl::StrCat("BPE ", affix), "empty");
  }
  GHOST_ASSIGN_OR_RETURN(model->byte_fallback_, json.Bool("byte_fallback", false));
  GHOST_ASSIGN_OR_RETURN(model->fuse_unk_, json.Bool("fuse_unk", false));
  GHOST_ASSIGN_OR_RETURN(model->ignore_merges_, json.Bool("ignore_merges", false));
  GHOST_RETURN_IF_ERROR(model->ReadVocab(json, max_id, vocab));
  GHOST_RETURN_IF_ERROR(model->ReadMerges(json, vocab));

  if (json.Has("unk_token")) {
    GHOST_ASSIGN_OR_RETURN(const std::string unk, json.String("unk_token"));
    const auto it = std::find_if(vocab.begin(), vocab.end(),
                                 [&](const auto& entry) { return entry.first == unk; });
    if (it == vocab.end()) {
      return json.Error(absl::StrCat("unk_token \"", unk, "\" is not in the vocabulary"));
    }
    model->unk_id_ = it->second;
  }
  for (int b = 0; b < 256; ++b) {
    const std::string byte(1, static_cast<char>(b));
    model->byte_ids_[b] = byte_level ? model->Find(byte).value_or(-1) : -1;
    model->fallback_ids_[b] =
        model->byte_fallback_ ? model->Find(absl::StrFormat("<0x%02X>", b)).value_or(-1) : -1;
  }
  return model;
}

absl::Status BpeModel::ReadVocab(const JsonReader& json, std::int64_t max_id,
                                 std::vector<std::pair<std::string, std::int32_t>>& vocab) {
  GHOST_ASSIGN_OR_RETURN(const JsonReader vocab_json, json.Object("vocab"));
  const Json& entries = vocab_json.value();
  vocab.reserve(entries.size());
  std::vector<bool> seen(static_cast<std::size_t>(max_id), false);
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    std::int64_t id = 0;
    if (!JsonInteger(it.value(), 0, max_id - 1, id)) {
      return vocab_json.Error(absl::StrCat("id of \"", it.key(), "\" must be an integer in [0, ",
                                           max_id, ") for a file of this size"));
    }
    if (seen[id]) {
      return vocab_json.Error(
          absl::StrCat("id ", id, " is given to two tokens (one is \"", it.key(), "\")"));
    }
    seen[id] = true;
    vocab.emplace_back(it.key(), static_cast<std::int32_t>(id));
    if (!byte_level_) {
      ids_.emplace(it.key(), static_cast<std::int32_t>(id));
    } else if (std::optional<std::string> bytes = AlphabetToBytes(it.key())) {
      // A symbol with characters outside the byte alphabet can never be produced from bytes.
      ids_.emplace(*std::move(bytes), static_cast<std::int32_t>(id));
    }
  }
  return absl::OkStatus();
}

absl::Status BpeModel::ReadMerges(const JsonReader& json,
                                  const std::vector<std::pair<std::string, std::int32_t>>& vocab) {
  if (!json.Has("merges")) return absl::OkStatus();
  const JsonReader merges = json.Child("merges");
  // Read without a JsonReader per item: Llama-3 has 280,000 merges.
  const Json& list = merges.value();
  if (!list.is_array()) return json.Error("\"merges\" must be a list");
  if (list.size() > static_cast<std::size_t>(INT32_MAX)) return json.Error("too many merges");
  // Merges name symbols as written in the file.
  absl::flat_hash_map<absl::string_view, std::int32_t> symbol_ids;
  symbol_ids.reserve(vocab.size());
  for (const auto& [symbol, id] : vocab) symbol_ids.emplace(symbol, id);
  merges_.reserve(list.size());
  std::string left, right;
  for (std::size_t rank = 0; rank < list.size(); ++rank) {
    const auto error = [&](std::string_view message) {
      return JsonReader(list[rank], json.source(), absl::StrCat(merges.path(), "[", rank, "]"))
          .Error(message);
    };
    if (!ParseMerge(list[rank], left, right)) {
      return error(absl::StrCat(JsonSnippet(list[rank]), " is not \"a b\" or [\"a\", \"b\"]"));
    }
    const auto a = symbol_ids.find(left);
    const auto b = symbol_ids.find(right);
    const auto merged = symbol_ids.find(left + right);
    if (a == symbol_ids.end() || b == symbol_ids.end() || merged == symbol_ids.end()) {
      return error(absl::StrCat("merge \"", left, "\" + \"", right,
                                "\" uses or makes a token not in the vocabulary"));
    }
    // A repeated pair takes its later rank, as in the Rust and JS implementations.
    merges_.insert_or_assign(PairKey(a->second, b->second),
                             Merge{static_cast<std::int32_t>(rank), merged->second});
  }
  return absl::OkStatus();
}

std::optional<std::int32_t> BpeModel::Find(std::string_view bytes) const {
  const auto it = ids_.find(absl::string_view(bytes.data(), bytes.size()));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

std::vector<BpeModel::Symbol> BpeModel::InitialSymbols(std::string_view word) const {
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  bool last_unknown = false;
  for (std::size_t i = 0; i < word.size();) {
    const std::size_t length =
        byte_level_ ? 1
                    : std::min(Utf8Length(static_cast<unsigned char>(word[i])), word.size() - i);
    const std::string_view unit = word.substr(i, length);
    i += length;
    std::optional<std::int32_t> id;
    if (!byte_level_) {
      id = Find(unit);
    } else if (const std::int32_t byte_id = byte_ids_[static_cast<unsigned char>(unit[0])];
               byte_id >= 0) {
      id = byte_id;
    }
    if (id) {
      symbols.push_back({*id, -1, -1, static_cast<std::uint32_t>(length)});
      last_unknown = false;
      continue;
    }
    if (byte_fallback_ && std::all_of(unit.begin(), unit.end(), [&](char c) {
          return fallback_ids_[static_cast<unsigned char>(c)] >= 0;
        })) {
      for (char c : unit)
        symbols.push_back({fallback_ids_[static_cast<unsigned char>(c)], -1, -1, 1});
      last_unknown = false;
      continue;
    }
    // Without an unk token an unknown character is dropped, as the Rust and JS BPE do.
    if (!unk_id_) continue;
    if (fuse_unk_ && last_unknown) {
      symbols.back().length += static_cast<std::uint32_t>(length);
    } else {
      symbols.push_back({*unk_id_, -1, -1, static_cast<std::uint32_t>(length)});
    }
    last_unknown = true;
  }
  for (std::size_t k = 0; k < symbols.size(); ++k) {
    symbols[k].prev = static_cast<std::int32_t>(k) - 1;
    symbols[k].next = k + 1 < symbols.size() ? static_cast<std::int32_t>(k + 1) : -1;
  }
  return symbols;
}

void BpeModel::ApplyMerges(std::vector<Symbol>& symbols) const {
  std::priority_queue<Candidate> queue;
  const auto consider = [&](std::int32_t pos) {
    const Symbol& left = symbols[pos];
    if (left.next < 0) return;
    const auto it = merges_.find(PairKey(left.id, symbols[left.next].id));
    if (it != merges_.end()) queue.push({it->second.rank, pos, it->second.merged_id});
  };
  for (std::size_t k = 0; k + 1 < symbols.size(); ++k) consider(static_cast<std::int32_t>(k));
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (left.length == 0 || left.next < 0) continue;
    // Stale when either side has changed since the candidate was queued.
    const auto it = merges_.find(PairKey(left.id, symbols[left.next].id));
    if (it == merges_.end() || it->second.merged_id != top.merged_id) continue;
    Symbol& right = symbols[left.next];
    left.id = top.merged_id;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    if (left.prev >= 0) consider(left.prev);
    consider(top.pos);
  }
}

void BpeModel::Tokenize(std::string_view word, std::vector<std::int32_t>& ids) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    // Llama-3: a word that is itself a token is emitted whole, whatever the merges would do.
    if (const std::optional<std::int32_t> id = Find(word)) {
      ids.push_back(*id);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    absl::MutexLock lock(&cache_mutex_);
    const auto it = cache_.find(absl::string_view(word.data(), word.size()));
    if (it != cache_.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<Symbol> symbols = InitialSymbols(word);
  ApplyMerges(symbols);
  std::vector<std::int32_t> word_ids;
  for (const Symbol& symbol : symbols) {
    if (symbol.length > 0) word_ids.push_back(symbol.id);
  }
  ids.insert(ids.end(), word_ids.begin(), word_ids.end());
  if (cacheable) {
    absl::MutexLock lock(&cache_mutex_);
    if (cache_.size() >= kCacheCapacity) cache_.clear();
    cache_.emplace(word, std::move(word_ids));
  }
}

}  // namespace ghost::tokenizer
