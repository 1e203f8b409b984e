// tokenizer.json "added_tokens": strings matched literally in the input before any other step.
// The input is split on them first (leftmost, then longest match); the text between them goes
// through the normalizer, is split again on the added tokens whose "normalized" flag is set
// (matched against their normalized content), and only then pre-tokenized. Special tokens match
// only when the caller parses special tokens; lstrip/rstrip absorb the whitespace beside a match
// and single_word rejects a match touching a letter, digit or '_'.
#ifndef GHOST_ENGINE_TOKENIZER_ADDED_TOKENS_H_
#define GHOST_ENGINE_TOKENIZER_ADDED_TOKENS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ghost::tokenizer {

struct AddedToken {
  std::string content;
  std::int32_t id = 0;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

// A piece of input after splitting: an added token (id >= 0) or text.
struct Segment {
  std::string text;
  std::int32_t id = -1;
  bool at_input_start = false;  // text that begins the whole input
};

class AddedTokenMatcher {
 public:
  // Each token is matched by its pattern: its content, or its normalized content for the pass
  // over normalized text. An empty pattern never matches.
  explicit AddedTokenMatcher(std::vector<std::pair<AddedToken, std::string>> tokens_and_patterns);
  AddedTokenMatcher() = default;

  // Appends the segments of `text` to `out`.
  void Split(std::string_view text, bool parse_special, bool at_input_start,
             std::vector<Segment>& out) const;

 private:
  struct Entry {
    std::string pattern;
    AddedToken token;
  };
  // The longest entry that may match at text[at], or nullptr.
  const Entry* MatchAt(std::string_view text, std::size_t at, bool parse_special) const;

  std::vector<Entry> entries_;
  std::array<std::vector<std::size_t>, 256> by_first_byte_;  // entry indices, longest first
};

}  // namespace ghost::tokenizer

#endif  // GHOST_ENGINE_TOKENIZER_ADDED_TOKENS_H_
