// The tokenizer.json "model" of type BPE: a vocabulary, merges applied by rank, and what to do
// with characters outside the vocabulary (byte_fallback to <0xXX> tokens, unk, fuse_unk).
#ifndef GHOST_ENGINE_TOKENIZER_BPE_MODEL_H_
#define GHOST_ENGINE_TOKENIZER_BPE_MODEL_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/tokenizer/tokenizer_json.h"

namespace ghost::tokenizer {

class BpeModel {
 public:
  // `json` is the "model" object. Ids must lie below max_id (the caller's bound, proportional
  // to the file's token count). With `byte_level`, vocabulary symbols are spelled in the GPT-2
  // byte alphabet and words arrive as raw bytes; otherwise words are text split into
  // characters. `vocab` receives {symbol as written, id} for every vocabulary entry.
  static absl::StatusOr<std::unique_ptr<BpeModel>> FromJson(
      const JsonReader& json, bool byte_level, std::int64_t max_id,
      std::vector<std::pair<std::string, std::int32_t>>& vocab);

  // Appends the ids of one pre-tokenized word. Thread-safe.
  void Tokenize(std::string_view word, std::vector<std::int32_t>& ids) const;

 private:
  struct Merge {
    std::int32_t rank = 0;
    std::int32_t merged_id = 0;
  };
  struct Symbol {
    std::int32_t id = 0;
    std::int32_t prev = -1;
    std::int32_t next = -1;
    std::uint32_t length = 0;  // bytes of the word covered; 0 once merged into its left neighbour
  };

  BpeModel() = default;
  absl::Status ReadVocab(const JsonReader& json, std::int64_t max_id,
                         std::vector<std::pair<std::string, std::int32_t>>& vocab);
  absl::Status ReadMerges(const JsonReader& json,
                          const std::vector<std::pair<std::string, std::int32_t>>& vocab);
  std::optional<std::int32_t> Find(std::string_view bytes) const;
  // The word split into initial symbols: bytes or characters, byte fallback, unk.
  std::vector<Symbol> InitialSymbols(std::string_view word) const;
  void ApplyMerges(std::vector<Symbol>& symbols) const;
  static std::uint64_t PairKey(std::int32_t left, std::int32_t right) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) |
           static_cast<std::uint32_t>(right);
  }

  bool byte_level_ = false;
  absl::flat_hash_map<std::string, std::int32_t> ids_;  // bytes (byte-level) or text -> id
  absl::flat_hash_map<std::uint64_t, Merge> merges_;
  std::array<std::int32_t, 256> byte_ids_{};      // byte-level: the single-byte tokens, or -1
  std::array<std::int32_t, 256> fallback_ids_{};  // byte_fallback: the <0xXX> tokens, or -1
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  std::optional<std::int32_t> unk_id_;

  // Repeated words (most words of a text) skip the merge loop. Bounded: cleared when full.
  mutable absl::Mutex cache_mutex_;
  mutable absl::flat_hash_map<std::string, std::vector<std::int32_t>> cache_
      ABSL_GUARDED_BY(cache_mutex_);
};

}  // namespace ghost::tokenizer

#endif  // GHOST_ENGINE_TOKENIZER_BPE_MODEL_H_
