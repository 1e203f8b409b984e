// Unicode helpers for the string filters and methods: strings are UTF-8; lengths, indices and
// slices count code points, as Python's do.
#ifndef GHOST_ENGINE_JINJA_TEXT_H_
#define GHOST_ENGINE_JINJA_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ghost::jinja::internal {

void AppendUtf8(std::uint32_t code_point, std::string& out);
// Invalid bytes become U+FFFD.
std::vector<std::uint32_t> DecodeUtf8(std::string_view text);
std::string EncodeUtf8(const std::vector<std::uint32_t>& code_points);
std::string ToUpper(std::string_view text);
std::string ToLower(std::string_view text);
// Python's str.title(): a letter after a non-letter is upper-cased, every other letter lowered.
std::string ToTitle(std::string_view text);
// Python's str.capitalize(): the first character upper-cased, the rest lowered.
std::string Capitalize(std::string_view text);
// JavaScript's String.prototype.trim/trimStart/trimEnd whitespace (ASCII and Unicode spaces).
bool IsUnicodeSpace(std::uint32_t code_point);

}  // namespace ghost::jinja::internal

#endif  // GHOST_ENGINE_JINJA_TEXT_H_
