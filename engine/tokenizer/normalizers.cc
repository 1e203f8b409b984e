#include "engine/tokenizer/normalizers.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"

namespace ghost::tokenizer {
namespace {

constexpr std::string_view kSupported = "NFC, NFD, NFKC, NFKD, Prepend, Replace, Sequence";

std::string ReplaceAll(std::string_view text, const Regex& pattern, std::string_view content) {
  std::vector<Regex::Match> matches;
  // Past PCRE2's match limit the text keeps the matches found so far replaced and no others.
  (void)pattern.FindAll(text, matches);
  if (matches.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  std::size_t done = 0;
  for (const Regex::Match& m : matches) {
    out.append(text.substr(done, m.begin - done));
    out.append(content);
    done = m.end;
  }
  out.append(text.substr(done));
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Normalizer>> Normalizer::FromJson(const JsonReader& json) {
  auto normalizer = std::unique_ptr<Normalizer>(new Normalizer());
  GHOST_RETURN_IF_ERROR(normalizer->Add(json, 0));
  return normalizer;
}

absl::Status Normalizer::Add(const JsonReader& json, int depth) {
  if (depth > kMaxNesting) return json.Error("normalizers nested too deeply");
  GHOST_ASSIGN_OR_RETURN(const std::string& type, json.String("type"));
  if (type == "Sequence") {
    GHOST_ASSIGN_OR_RETURN(const std::vector<JsonReader> items, json.Array("normalizers"));
    for (const JsonReader& item : items) GHOST_RETURN_IF_ERROR(Add(item, depth + 1));
    return absl::OkStatus();
  }
  Step step;
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    step.kind = Kind::kUnicode;
    step.form = type == "NFC"    ? NormalForm::kNfc
                : type == "NFD"  ? NormalForm::kNfd
                : type == "NFKC" ? NormalForm::kNfkc
                                 : NormalForm::kNfkd;
  } else if (type == "Prepend") {
    step.kind = Kind::kPrepend;
    GHOST_ASSIGN_OR_RETURN(step.text, json.String("prepend"));
  } else if (type == "Replace") {
    step.kind = Kind::kReplace;
    GHOST_ASSIGN_OR_RETURN(step.text, json.String("content"));
    GHOST_ASSIGN_OR_RETURN(Regex pattern, ReadPattern(json, "pattern"));
    step.pattern = std::make_unique<const Regex>(std::move(pattern));
  } else {
    return json.Unsupported(absl::StrCat("normalizer ", type), kSupported);
  }
  steps_.push_back(std::move(step));
  return absl::OkStatus();
}

std::string Normalizer::Normalize(std::string_view text) const {
  std::string current(text);
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Kind::kUnicode:
        current = NormalizeUnicode(current, step.form);
        break;
      case Kind::kPrepend:
        // As in the Rust tokenizers, an empty piece stays empty.
        if (!current.empty()) current = step.text + current;
        break;
      case Kind::kReplace:
        current = ReplaceAll(current, *step.pattern, step.text);
        break;
    }
  }
  return current;
}

}  // namespace ghost::tokenizer
