#include "engine/jinja/lexer.h"

#include <algorithm>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "engine/jinja/text.h"

namespace ghost::jinja::internal {
namespace {

bool IsSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }

// Text with, for each byte, its offset in the original template (for positions in errors).
struct MappedText {
  std::string text;
  std::vector<int> origin;
  void Push(char c, int at) {
    text += c;
    origin.push_back(at);
  }
};

MappedText Identity(std::string_view source) {
  MappedText out;
  for (std::size_t i = 0; i < source.size(); ++i) out.Push(source[i], static_cast<int>(i));
  return out;
}

// lstrip_blocks: spaces and tabs from a line's start up to "{%", "{#" or "{-" are dropped.
MappedText StripBlockIndent(const MappedText& in) {
  MappedText out;
  const std::string& s = in.text;
  std::size_t i = 0;
  while (i < s.size()) {
    const bool line_start = i == 0 || s[i - 1] == '\n';
    if (line_start) {
      std::size_t j = i;
      while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
      if (j > i && j + 1 < s.size() && s[j] == '{' &&
          (s[j + 1] == '%' || s[j + 1] == '#' || s[j + 1] == '-')) {
        i = j;
      }
    }
    out.Push(s[i], in.origin[i]);
    ++i;
  }
  return out;
}

// trim_blocks: the newline right after "%}", "#}" or "-}" is dropped.
MappedText TrimBlockNewlines(const MappedText& in) {
  MappedText out;
  const std::string& s = in.text;
  for (std::size_t i = 0; i < s.size(); ++i) {
    out.Push(s[i], in.origin[i]);
    if (s[i] == '}' && i > 0 && (s[i - 1] == '%' || s[i - 1] == '#' || s[i - 1] == '-') &&
        i + 1 < s.size() && s[i + 1] == '\n') {
      ++i;
    }
  }
  return out;
}

// {% generation %} and {% endgeneration %} (HF's marker of assistant text) render nothing.
MappedText RemoveGenerationTags(const MappedText& in) {
  MappedText out;
  const std::string& s = in.text;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 2, "{%") == 0) {
      std::size_t j = i + 2;
      const bool strip_before = j < s.size() && s[j] == '-';
      if (strip_before) ++j;
      while (j < s.size() && IsSpace(s[j])) ++j;
      if (s.compare(j, 3, "end") == 0) j += 3;
      if (s.compare(j, 10, "generation") == 0) {
        j += 10;
        while (j < s.size() && IsSpace(s[j])) ++j;
        const bool strip_after = j < s.size() && s[j] == '-';
        if (strip_after) ++j;
        if (s.compare(j, 2, "%}") == 0) {
          j += 2;
          if (strip_before) {
            while (!out.text.empty() && IsSpace(out.text.back())) {
              out.text.pop_back();
              out.origin.pop_back();
            }
          }
          if (strip_after) {
            while (j < s.size() && IsSpace(s[j])) ++j;
          }
          i = j;
          continue;
        }
      }
    }
    out.Push(s[i], in.origin[i]);
    ++i;
  }
  return out;
}

class Lexer {
 public:
  Lexer(std::string_view source, MappedText text) : source_(source), in_(std::move(text)) {
    line_starts_.push_back(0);
    for (std::size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\n') line_starts_.push_back(static_cast<int>(i) + 1);
    }
  }

  absl::StatusOr<std::vector<Token>> Run() {
    const std::string& s = in_.text;
    while (pos_ < s.size()) {
      if (!in_tag_) {
        std::size_t end = pos_;
        while (end < s.size() && !(s[end] == '{' && end + 1 < s.size() &&
                                   (s[end + 1] == '%' || s[end + 1] == '{' || s[end + 1] == '#'))) {
          ++end;
        }
        if (end > pos_) {
          Push(Token::Kind::kText, s.substr(pos_, end - pos_), pos_);
          pos_ = end;
          continue;
        }
        if (absl::Status status = OpenTag(); !status.ok()) return status;
        continue;
      }
      while (pos_ < s.size() && IsSpace(s[pos_])) ++pos_;
      if (pos_ >= s.size()) break;
      if (absl::Status status = TagToken(); !status.ok()) return status;
    }
    if (in_tag_) return Error(tag_start_, "the tag opened here is never closed");
    tokens_.push_back(Token{Token::Kind::kEnd, "", PositionOf(s.size())});
    return std::move(tokens_);
  }

 private:
  Position PositionOf(std::size_t at) const {
    const int offset = at < in_.origin.size() ? in_.origin[at] : static_cast<int>(source_.size());
    const auto line = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset) - 1;
    return Position{static_cast<int>(line - line_starts_.begin()) + 1, offset - *line + 1};
  }

  absl::Status Error(std::size_t at, absl::string_view message) const {
    const Position p = PositionOf(at);
    return absl::InvalidArgumentError(
        absl::StrCat("line ", p.line, ", column ", p.column, ": ", message));
  }

  void Push(Token::Kind kind, std::string text, std::size_t at) {
    tokens_.push_back(Token{kind, std::move(text), PositionOf(at)});
  }

  // "-" on the left of a tag: the text before it loses its trailing whitespace.
  void StripPreviousText() {
    if (tokens_.empty() || tokens_.back().kind != Token::Kind::kText) return;
    std::string& text = tokens_.back().text;
    while (!text.empty() && IsSpace(text.back())) text.pop_back();
    if (text.empty()) tokens_.pop_back();
  }

  void SkipWhitespace() {
    while (pos_ < in_.text.size() && IsSpace(in_.text[pos_])) ++pos_;
  }

  absl::Status OpenTag() {
    const std::string& s = in_.text;
    const char kind = s[pos_ + 1];
    const bool strip = pos_ + 2 < s.size() && s[pos_ + 2] == '-';
    if (kind == '#') {
      const std::size_t start = pos_;
      const std::size_t end = s.find("#}", pos_ + 2);
      if (end == std::string::npos) return Error(start, "the comment opened here is never closed");
      if (strip) StripPreviousText();
      pos_ = end + 2;
      if (end > start + 2 && s[end - 1] == '-') SkipWhitespace();
      return absl::OkStatus();
    }
    if (strip) StripPreviousText();
    tag_start_ = pos_;
    Push(kind == '%' ? Token::Kind::kOpenStatement : Token::Kind::kOpenOutput,
         kind == '%' ? "{%" : "{{", pos_);
    pos_ += strip ? 3 : 2;
    in_tag_ = true;
    brace_depth_ = 0;
    return absl::OkStatus();
  }

  absl::Status TagToken() {
    const std::string& s = in_.text;
    const std::size_t start = pos_;
    const char c = s[pos_];
    auto next = [&](std::size_t k) { return pos_ + k < s.size() ? s[pos_ + k] : '\0'; };
    // Closing tags, with or without "-".
    const bool dash = c == '-';
    const char closer = dash ? next(1) : c;
    const char closer2 = dash ? next(2) : next(1);
    if ((closer == '%' && closer2 == '}') ||
        (closer == '}' && closer2 == '}' && brace_depth_ == 0)) {
      const bool statement = closer == '%';
      const Token::Kind open = tokens_[FindOpen()].kind;
      if ((open == Token::Kind::kOpenStatement) != statement) {
        return Error(start, statement ? "\"%}\" closes a \"{{\"" : "\"}}\" closes a \"{%\"");
      }
      Push(statement ? Token::Kind::kCloseStatement : Token::Kind::kCloseOutput,
           statement ? "%}" : "}}", start);
      pos_ += dash ? 3 : 2;
      in_tag_ = false;
      if (dash) SkipWhitespace();
      return absl::OkStatus();
    }
    if (c == '\'' || c == '"') return StringLiteral();
    if (IsDigit(c)) {
      std::size_t end = pos_;
      while (end < s.size() && IsDigit(s[end])) ++end;
      bool is_float = false;
      if (end + 1 < s.size() && s[end] == '.' && IsDigit(s[end + 1])) {
        is_float = true;
        ++end;
        while (end < s.size() && IsDigit(s[end])) ++end;
      }
      Push(is_float ? Token::Kind::kFloat : Token::Kind::kInteger, s.substr(pos_, end - pos_),
           start);
      pos_ = end;
      return absl::OkStatus();
    }
    if (IsNameStart(c)) {
      std::size_t end = pos_;
      while (end < s.size() && IsNameChar(s[end])) ++end;
      Push(Token::Kind::kName, s.substr(pos_, end - pos_), start);
      pos_ = end;
      return absl::OkStatus();
    }
    static constexpr std::string_view kTwoChar[] = {"**", "//", "==", "!=", "<=", ">="};
    for (std::string_view op : kTwoChar) {
      if (s.compare(pos_, 2, op) == 0) {
        Push(Token::Kind::kOperator, std::string(op), start);
        pos_ += 2;
        return absl::OkStatus();
      }
    }
    static constexpr std::string_view kOneChar = "()[]{},.:|=+-*/%~<>";
    if (kOneChar.find(c) != std::string_view::npos) {
      if (c == '{') ++brace_depth_;
      if (c == '}') --brace_depth_;
      Push(Token::Kind::kOperator, std::string(1, c), start);
      ++pos_;
      return absl::OkStatus();
    }
    return Error(start, absl::StrCat("unexpected character '", std::string(1, s[pos_]), "'"));
  }

  std::size_t FindOpen() const {
    for (std::size_t i = tokens_.size(); i-- > 0;) {
      if (tokens_[i].kind == Token::Kind::kOpenStatement ||
          tokens_[i].kind == Token::Kind::kOpenOutput) {
        return i;
      }
    }
    return 0;  // unreachable: a tag is open
  }

  absl::Status StringLiteral() {
    const std::string& s = in_.text;
    const std::size_t start = pos_;
    const char quote = s[pos_++];
    std::string value;
    while (true) {
      if (pos_ >= s.size()) return Error(start, "the string opened here is never closed");
      const char c = s[pos_++];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        continue;
      }
      if (pos_ >= s.size()) return Error(start, "the string opened here is never closed");
      const char e = s[pos_++];
      switch (e) {
        case 'n':
          value += '\n';
          break;
        case 't':
          value += '\t';
          break;
        case 'r':
          value += '\r';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'v':
          value += '\v';
          break;
        case '\'':
        case '"':
        case '\\':
          value += e;
          break;
        case 'x':
        case 'u': {
          const std::size_t digits = e == 'x' ? 2 : 4;
          std::uint32_t code = 0;
          for (std::size_t k = 0; k < digits; ++k) {
            const char h = pos_ + k < s.size() ? s[pos_ + k] : '\0';
            const int v = IsDigit(h)               ? h - '0'
                          : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                          : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                                   : -1;
            if (v < 0) return Error(pos_ - 2, absl::StrCat("bad \\", std::string(1, e), " escape"));
            code = code * 16 + static_cast<std::uint32_t>(v);
          }
          pos_ += digits;
          // A lone surrogate has no UTF-8 form; it becomes U+FFFD.
          if (code >= 0xD800 && code <= 0xDFFF) code = 0xFFFD;
          AppendUtf8(code, value);
          break;
        }
        default:
          return Error(pos_ - 2, absl::StrCat("unknown escape \\", std::string(1, e)));
      }
    }
    Push(Token::Kind::kString, std::move(value), start);
    return absl::OkStatus();
  }

  std::string_view source_;
  std::vector<int> line_starts_;  // byte offsets; columns are counted in bytes
  MappedText in_;
  std::size_t pos_ = 0;
  bool in_tag_ = false;
  std::size_t tag_start_ = 0;
  int brace_depth_ = 0;
  std::vector<Token> tokens_;
};

}  // namespace

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view source) {
  std::string_view body = source;
  if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
  MappedText text = RemoveGenerationTags(TrimBlockNewlines(StripBlockIndent(Identity(body))));
  return Lexer(source, std::move(text)).Run();
}

}  // namespace ghost::jinja::internal
