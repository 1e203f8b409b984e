// UTF-8 validation and repair shared by the safetensors reader, tokenizer and stream decoder.
#ifndef GHOST_ENGINE_COMMON_UTF8_H_
#define GHOST_ENGINE_COMMON_UTF8_H_

#include <string>
#include <string_view>

namespace ghost {

inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

bool IsValidUtf8(std::string_view text);

// Removes from the front of `buffer` and returns its longest prefix that can be emitted as
// valid UTF-8, with every invalid subsequence replaced by U+FFFD (one per maximal invalid
// subpart, as the Unicode standard recommends). Unless `flush`, an incomplete but so far valid
// sequence at the end stays in `buffer` to be completed by later bytes.
std::string TakeValidUtf8(std::string& buffer, bool flush);

}  // namespace ghost

#endif  // GHOST_ENGINE_COMMON_UTF8_H_
