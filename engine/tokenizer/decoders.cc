#include "engine/tokenizer/decoders.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/common/status_macros.h"
#include "engine/tokenizer/tokenizer_unicode.h"

namespace ghost::tokenizer {
namespace {

constexpr std::string_view kSupported =
    "ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence";

bool IsOneCharacter(std::string_view text) {
  std::size_t i = 0;
  return !text.empty() && NextCodepoint(text, i) && i == text.size();
}

// The byte a "<0xXX>" byte-fallback token stands for.
std::optional<char> FallbackByte(std::string_view token) {
  if (token.size() != 6 || !token.starts_with("<0x") || token.back() != '>') return std::nullopt;
  int value = 0;
  for (char c : token.substr(3, 2)) {
    const int digit = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                             : -1;
    if (digit < 0) return std::nullopt;
    value = value * 16 + digit;
  }
  return static_cast<char>(value);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Decoder>> Decoder::FromJson(const JsonReader& json) {
  auto decoder = std::unique_ptr<Decoder>(new Decoder());
  GHOST_RETURN_IF_ERROR(decoder->Add(json, 0));
  return decoder;
}

std::unique_ptr<Decoder> Decoder::JoinWithSpaces() {
  auto decoder = std::unique_ptr<Decoder>(new Decoder());
  Step step;
  step.kind = Kind::kJoinWithSpaces;
  decoder->steps_.push_back(std::move(step));
  return decoder;
}

absl::Status Decoder::Add(const JsonReader& json, int depth) {
  if (depth > kMaxNesting) return json.Error("decoders nested too deeply");
  GHOST_ASSIGN_OR_RETURN(const std::string& type, json.String("type"));
  if (type == "Sequence") {
    GHOST_ASSIGN_OR_RETURN(const std::vector<JsonReader> items, json.Array("decoders"));
    for (const JsonReader& item : items) GHOST_RETURN_IF_ERROR(Add(item, depth + 1));
    return absl::OkStatus();
  }
  if (type == "Fuse") {
    fused_ = true;
    return absl::OkStatus();
  }
  // These read a token at a time, which a fused text no longer is.
  if (fused_ && (type == "ByteLevel" || type == "ByteFallback" || type == "Metaspace")) {
    return json.Unsupported(absl::StrCat("decoder ", type, " after Fuse"), kSupported);
  }
  Step step;
  if (type == "ByteLevel") {
    step.kind = Kind::kByteLevel;
  } else if (type == "ByteFallback") {
    step.kind = Kind::kByteFallback;
  } else if (type == "Replace") {
    step.kind = Kind::kReplace;
    GHOST_ASSIGN_OR_RETURN(const JsonReader pattern, json.Object("pattern"));
    if (!pattern.Has("String")) {
      return json.Unsupported("decoder Replace with a Regex pattern", "String patterns");
    }
    GHOST_ASSIGN_OR_RETURN(step.from, pattern.String("String"));
    GHOST_ASSIGN_OR_RETURN(step.to, json.String("content"));
    if (step.from.empty()) return pattern.Error("empty \"String\" pattern");
    // A longer pattern could span two tokens once they are fused.
    if (fused_ && !IsOneCharacter(step.from)) {
      return json.Unsupported("decoder Replace of several characters after Fuse", kSupported);
    }
  } else if (type == "Strip") {
    step.kind = Kind::kStrip;
    GHOST_ASSIGN_OR_RETURN(step.from, json.String("content"));
    if (!IsOneCharacter(step.from)) return json.Error("\"content\" must be one character");
    GHOST_ASSIGN_OR_RETURN(step.strip_start, json.Int("start", 0, 1 << 20, 0));
    GHOST_ASSIGN_OR_RETURN(step.strip_stop, json.Int("stop", 0, 1 << 20, 0));
    step.first_only = fused_;
    if (fused_ && (step.strip_start > 1 || step.strip_stop > 0)) {
      return json.Unsupported("decoder Strip after Fuse other than Strip(start <= 1, stop 0)",
                              kSupported);
    }
  } else if (type == "Metaspace") {
    step.kind = Kind::kMetaspace;
    GHOST_ASSIGN_OR_RETURN(step.from, json.String("replacement", "\u2581"));
    if (step.from.empty()) return json.Error("empty \"replacement\"");
    GHOST_ASSIGN_OR_RETURN(step.drop_first, json.Bool("add_prefix_space", true));
    if (json.Has("prepend_scheme")) {
      GHOST_ASSIGN_OR_RETURN(const std::string scheme, json.String("prepend_scheme"));
      step.drop_first = scheme != "never";
    }
  } else {
    return json.Unsupported(absl::StrCat("decoder ", type), kSupported);
  }
  steps_.push_back(std::move(step));
  return absl::OkStatus();
}

void Decoder::Append(std::string_view token, bool added, std::size_t position,
                     std::string& out) const {
  std::string text(token);
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Kind::kByteLevel:
        // A symbol outside the byte alphabet stays as written, as in the Rust decoder.
        if (!added) text = AlphabetToBytes(text).value_or(text);
        break;
      case Kind::kByteFallback:
        if (const std::optional<char> byte = FallbackByte(text)) text.assign(1, *byte);
        break;
      case Kind::kReplace:
        text = absl::StrReplaceAll(text, {{step.from, step.to}});
        break;
      case Kind::kStrip: {
        if (step.first_only && position != 0) break;
        std::size_t begin = 0;
        for (int k = 0;
             k < step.strip_start && text.compare(begin, step.from.size(), step.from) == 0; ++k) {
          begin += step.from.size();
        }
        std::size_t end = text.size();
        for (int k = 0; k < step.strip_stop && end >= begin + step.from.size() &&
                        text.compare(end - step.from.size(), step.from.size(), step.from) == 0;
             ++k) {
          end -= step.from.size();
        }
        text = text.substr(begin, end - begin);
        break;
      }
      case Kind::kMetaspace:
        // The Rust decoder drops every replacement character of the first token (the space
        // the pre-tokenizer prepended) and turns the others into spaces.
        text =
            absl::StrReplaceAll(text, {{step.from, position == 0 && step.drop_first ? "" : " "}});
        break;
      case Kind::kJoinWithSpaces:
        if (position > 0) text = absl::StrCat(" ", text);
        break;
    }
  }
  out += text;
}

}  // namespace ghost::tokenizer
