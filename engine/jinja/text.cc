#include "engine/jinja/text.h"

#include "utf8proc.h"

namespace ghost::jinja::internal {

void AppendUtf8(std::uint32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::vector<std::uint32_t> DecodeUtf8(std::string_view text) {
  std::vector<std::uint32_t> out;
  out.reserve(text.size());
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t at = 0;
  const auto size = static_cast<utf8proc_ssize_t>(text.size());
  while (at < size) {
    utf8proc_int32_t code = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(bytes + at, size - at, &code);
    if (n <= 0) {
      out.push_back(0xFFFD);
      ++at;
    } else {
      out.push_back(static_cast<std::uint32_t>(code));
      at += n;
    }
  }
  return out;
}

std::string EncodeUtf8(const std::vector<std::uint32_t>& code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (const std::uint32_t c : code_points) AppendUtf8(c, out);
  return out;
}

namespace {

std::uint32_t Upper(std::uint32_t c) {
  return static_cast<std::uint32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c)));
}
std::uint32_t Lower(std::uint32_t c) {
  return static_cast<std::uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
}
bool IsLetter(std::uint32_t c) {
  const utf8proc_category_t category = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_LO;
}

}  // namespace

std::string ToUpper(std::string_view text) {
  std::vector<std::uint32_t> cps = DecodeUtf8(text);
  for (std::uint32_t& c : cps) c = Upper(c);
  return EncodeUtf8(cps);
}

std::string ToLower(std::string_view text) {
  std::vector<std::uint32_t> cps = DecodeUtf8(text);
  for (std::uint32_t& c : cps) c = Lower(c);
  return EncodeUtf8(cps);
}

std::string ToTitle(std::string_view text) {
  std::vector<std::uint32_t> cps = DecodeUtf8(text);
  bool previous_letter = false;
  for (std::uint32_t& c : cps) {
    const bool letter = IsLetter(c);
    c = letter && !previous_letter ? Upper(c) : Lower(c);
    previous_letter = letter;
  }
  return EncodeUtf8(cps);
}

std::string Capitalize(std::string_view text) {
  std::vector<std::uint32_t> cps = DecodeUtf8(text);
  for (std::size_t i = 0; i < cps.size(); ++i) cps[i] = i == 0 ? Upper(cps[i]) : Lower(cps[i]);
  return EncodeUtf8(cps);
}

bool IsUnicodeSpace(std::uint32_t c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000 || c == 0xFEFF;
}

}  // namespace ghost::jinja::internal
