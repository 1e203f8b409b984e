#include "engine/tokenizer/added_tokens.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "engine/tokenizer/tokenizer_unicode.h"

namespace ghost::tokenizer {
namespace {

// The code point that ends just before `end` in valid UTF-8 text, and where it starts.
char32_t PreviousCodepoint(std::string_view text, std::size_t end, std::size_t& start) {
  start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  std::size_t i = start;
  return NextCodepoint(text, i).value_or(0);
}

bool WordBefore(std::string_view text, std::size_t at) {
  std::size_t start = 0;
  return at > 0 && IsWordCharacter(PreviousCodepoint(text, at, start));
}

bool WordAfter(std::string_view text, std::size_t at) {
  if (at >= text.size()) return false;
  const std::optional<char32_t> cp = NextCodepoint(text, at);
  return cp && IsWordCharacter(*cp);
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(
    std::vector<std::pair<AddedToken, std::string>> tokens_and_patterns) {
  for (auto& [token, pattern] : tokens_and_patterns) {
    if (pattern.empty()) continue;
    by_first_byte_[static_cast<unsigned char>(pattern[0])].push_back(entries_.size());
    entries_.push_back({std::move(pattern), std::move(token)});
  }
  for (std::vector<std::size_t>& bucket : by_first_byte_) {
    std::stable_sort(bucket.begin(), bucket.end(), [&](std::size_t a, std::size_t b) {
      return entries_[a].pattern.size() > entries_[b].pattern.size();
    });
  }
}

const AddedTokenMatcher::Entry* AddedTokenMatcher::MatchAt(std::string_view text, std::size_t at,
                                                           bool parse_special) const {
  for (std::size_t index : by_first_byte_[static_cast<unsigned char>(text[at])]) {
    const Entry& entry = entries_[index];
    if (entry.token.special && !parse_special) continue;
    if (text.substr(at, entry.pattern.size()) != entry.pattern) continue;
    if (entry.token.single_word &&
        (WordBefore(text, at) || WordAfter(text, at + entry.pattern.size()))) {
      continue;
    }
    return &entry;
  }
  return nullptr;
}

void AddedTokenMatcher::Split(std::string_view text, bool parse_special, bool at_input_start,
                              std::vector<Segment>& out) const {
  std::size_t done = 0;
  const auto emit_text = [&](std::size_t end) {
    if (end > done)
      out.push_back({std::string(text.substr(done, end - done)), -1, at_input_start && done == 0});
  };
  for (std::size_t i = 0; i < text.size();) {
    const Entry* match = entries_.empty() ? nullptr : MatchAt(text, i, parse_special);
    if (match == nullptr) {
      ++i;
      continue;
    }
    std::size_t start = i;
    std::size_t end = i + match->pattern.size();
    if (match->token.lstrip) {
      std::size_t previous = 0;
      while (start > done && IsWhiteSpace(PreviousCodepoint(text, start, previous))) {
        start = previous;
      }
    }
    if (match->token.rstrip) {
      for (std::size_t next = end; next < text.size();) {
        const std::optional<char32_t> cp = NextCodepoint(text, next);
        if (!cp || !IsWhiteSpace(*cp)) break;
        end = next;
      }
    }
    emit_text(start);
    out.push_back({std::string(), match->token.id, false});
    done = i = end;
  }
  emit_text(text.size());
}

}  // namespace ghost::tokenizer
