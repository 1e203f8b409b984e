#include "engine/common/utf8.h"

#include <algorithm>
#include <cstdint>

namespace ghost {
namespace {

// Length of the sequence a lead byte starts, 0 for a byte that cannot start one.
size_t SequenceLength(std::uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// The second byte's range excludes overlong forms, surrogates and code points > U+10FFFF.
bool ValidSecondByte(std::uint8_t lead, std::uint8_t byte) {
  switch (lead) {
    case 0xE0:
      return byte >= 0xA0 && byte <= 0xBF;
    case 0xED:
      return byte >= 0x80 && byte <= 0x9F;
    case 0xF0:
      return byte >= 0x90 && byte <= 0xBF;
    case 0xF4:
      return byte >= 0x80 && byte <= 0x8F;
    default:
      return byte >= 0x80 && byte <= 0xBF;
  }
}

// How many bytes at the start of `text` (non-empty) form a valid, possibly incomplete,
// sequence; `needed` receives the length of the complete sequence (0: invalid lead byte).
size_t ValidPrefix(std::string_view text, size_t& needed) {
  const auto lead = static_cast<std::uint8_t>(text[0]);
  needed = SequenceLength(lead);
  if (needed == 0) return 0;
  size_t i = 1;
  for (; i < needed && i < text.size(); ++i) {
    const auto byte = static_cast<std::uint8_t>(text[i]);
    const bool ok = i == 1 ? ValidSecondByte(lead, byte) : (byte & 0xC0) == 0x80;
    if (!ok) break;
  }
  return i;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  while (!text.empty()) {
    size_t needed = 0;
    const size_t valid = ValidPrefix(text, needed);
    if (needed == 0 || valid != needed) return false;
    text.remove_prefix(valid);
  }
  return true;
}

std::string TakeValidUtf8(std::string& buffer, bool flush) {
  std::string out;
  out.reserve(buffer.size());
  const std::string_view all(buffer);
  size_t i = 0;
  while (i < all.size()) {
    size_t needed = 0;
    const size_t valid = ValidPrefix(all.substr(i), needed);
    if (needed != 0 && valid == needed) {
      out.append(all.substr(i, valid));
      i += valid;
      continue;
    }
    if (!flush && valid > 0 && i + valid == all.size()) break;  // may still be completed
    out.append(kReplacementCharacter);
    i += std::max<size_t>(valid, 1);
  }
  buffer.erase(0, i);
  return out;
}

}  // namespace ghost
