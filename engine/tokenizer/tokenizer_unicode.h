// Character-level helpers shared by the tokenizer components: the GPT-2 byte alphabet, UTF-8
// code points, White_Space, and Unicode normalization forms (libutf8proc).
#ifndef GHOST_ENGINE_TOKENIZER_TOKENIZER_UNICODE_H_
#define GHOST_ENGINE_TOKENIZER_TOKENIZER_UNICODE_H_

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ghost::tokenizer {

// GPT-2's bytes_to_unicode(): printable bytes map to themselves, the others to U+0100 onwards.
// Byte-level vocabularies spell every byte with one of these 256 characters.
const std::array<char32_t, 256>& ByteAlphabet();

// The bytes a byte-alphabet symbol stands for; nullopt when it has any other character (or is
// not valid UTF-8).
std::optional<std::string> AlphabetToBytes(std::string_view symbol);

// Decodes the code point at text[i] and advances i; nullopt (i unchanged) when the bytes there
// are not a valid UTF-8 sequence.
std::optional<char32_t> NextCodepoint(std::string_view text, std::size_t& i);

// Length of the UTF-8 sequence whose lead byte is `lead` (1 for stray continuation bytes, so
// that scanning always advances).
std::size_t Utf8Length(unsigned char lead);

void AppendUtf8(char32_t codepoint, std::string& out);

// Unicode's White_Space property (what Rust's char::is_whitespace and Oniguruma's \s use).
bool IsWhiteSpace(char32_t codepoint);

// Letters, numbers and '_': what an added token with single_word must not touch.
bool IsWordCharacter(char32_t codepoint);

enum class NormalForm { kNfc, kNfd, kNfkc, kNfkd };

// `text` (valid UTF-8) in the normal form.
std::string NormalizeUnicode(std::string_view text, NormalForm form);

}  // namespace ghost::tokenizer

#endif  // GHOST_ENGINE_TOKENIZER_TOKENIZER_UNICODE_H_
