#include "engine/tokenizer/pre_tokenizers.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/common/status_macros.h"

namespace ghost::tokenizer {
namespace {

constexpr std::string_view kSupported = "ByteLevel, Metaspace, Split, Sequence";

// GPT-2's pattern, which ByteLevel applies when use_regex is true.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct Range {
  std::size_t begin = 0;
  std::size_t end = 0;
  bool is_match = false;
};

// The text cut at the matches into alternating non-match / match ranges, in order.
std::vector<Range> Alternate(std::size_t size, const std::vector<Regex::Match>& matches,
                             bool invert) {
  std::vector<Range> ranges;
  std::size_t done = 0;
  for (const Regex::Match& m : matches) {
    if (m.begin > done) ranges.push_back({done, m.begin, invert});
    ranges.push_back({m.begin, m.end, !invert});
    done = m.end;
  }
  if (done < size) ranges.push_back({done, size, invert});
  return ranges;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizer::FromJson(const JsonReader& json) {
  auto pre_tokenizer = std::unique_ptr<PreTokenizer>(new PreTokenizer());
  GHOST_RETURN_IF_ERROR(pre_tokenizer->Add(json, 0));
  return pre_tokenizer;
}

absl::Status PreTokenizer::Add(const JsonReader& json, int depth) {
  if (depth > kMaxNesting) return json.Error("pre-tokenizers nested too deeply");
  GHOST_ASSIGN_OR_RETURN(const std::string& type, json.String("type"));
  // The model sees ByteLevel's output as bytes, not as text (see Split()), so nothing may
  // follow it.
  if (byte_level()) {
    return json.Unsupported(absl::StrCat("pre-tokenizer ", type, " after ByteLevel"), kSupported);
  }
  if (type == "Sequence") {
    GHOST_ASSIGN_OR_RETURN(const std::vector<JsonReader> items, json.Array("pretokenizers"));
    for (const JsonReader& item : items) GHOST_RETURN_IF_ERROR(Add(item, depth + 1));
    return absl::OkStatus();
  }
  Step step;
  if (type == "Split") {
    step.kind = Kind::kSplit;
    GHOST_ASSIGN_OR_RETURN(Regex pattern, ReadPattern(json, "pattern"));
    step.pattern = std::make_unique<const Regex>(std::move(pattern));
    GHOST_ASSIGN_OR_RETURN(step.invert, json.Bool("invert", false));
    GHOST_ASSIGN_OR_RETURN(const std::string behavior, json.String("behavior"));
    if (behavior == "Isolated") {
      step.behavior = Behavior::kIsolated;
    } else if (behavior == "Removed") {
      step.behavior = Behavior::kRemoved;
    } else if (behavior == "MergedWithPrevious") {
      step.behavior = Behavior::kMergedWithPrevious;
    } else if (behavior == "MergedWithNext") {
      step.behavior = Behavior::kMergedWithNext;
    } else {
      return json.Unsupported(absl::StrCat("Split behavior ", behavior),
                              "Isolated, Removed, MergedWithPrevious, MergedWithNext");
    }
  } else if (type == "ByteLevel") {
    step.kind = Kind::kByteLevel;
    GHOST_ASSIGN_OR_RETURN(step.add_prefix_space, json.Bool("add_prefix_space", true));
    GHOST_ASSIGN_OR_RETURN(const bool use_regex, json.Bool("use_regex", true));
    if (use_regex) {
      GHOST_ASSIGN_OR_RETURN(Regex regex, Regex::Compile(kGpt2Pattern, /*literal=*/false));
      step.pattern = std::make_unique<const Regex>(std::move(regex));
    }
  } else if (type == "Metaspace") {
    step.kind = Kind::kMetaspace;
    GHOST_ASSIGN_OR_RETURN(step.replacement, json.String("replacement", "\u2581"));
    if (step.replacement.empty()) return json.Error("empty \"replacement\"");
    GHOST_ASSIGN_OR_RETURN(step.split, json.Bool("split", true));
    // Older files say add_prefix_space; newer ones prepend_scheme.
    GHOST_ASSIGN_OR_RETURN(step.add_prefix_space, json.Bool("add_prefix_space", true));
    if (json.Has("prepend_scheme")) {
      GHOST_ASSIGN_OR_RETURN(const std::string scheme, json.String("prepend_scheme"));
      if (scheme != "always" && scheme != "first" && scheme != "never") {
        return json.Unsupported(absl::StrCat("Metaspace prepend_scheme ", scheme),
                                "always, first, never");
      }
      step.add_prefix_space = scheme == "always";
      step.prepend_first = scheme == "first";
    }
  } else {
    return json.Unsupported(absl::StrCat("pre-tokenizer ", type), kSupported);
  }
  steps_.push_back(std::move(step));
  return absl::OkStatus();
}

void PreTokenizer::Apply(const Step& step, Piece piece, std::vector<Piece>& out) const {
  std::vector<Regex::Match> matches;
  Behavior behavior = step.behavior;
  switch (step.kind) {
    case Kind::kSplit:
      // Past PCRE2's match limit the rest of the piece stays whole rather than being lost.
      (void)step.pattern->FindAll(piece.text, matches);
      break;
    case Kind::kByteLevel:
      if (step.add_prefix_space && piece.text.front() != ' ') piece.text = " " + piece.text;
      if (step.pattern != nullptr) (void)step.pattern->FindAll(piece.text, matches);
      behavior = Behavior::kIsolated;
      break;
    case Kind::kMetaspace: {
      piece.text = absl::StrReplaceAll(piece.text, {{" ", step.replacement}});
      const bool prepend = step.add_prefix_space || (step.prepend_first && piece.at_input_start);
      if (prepend && !piece.text.starts_with(step.replacement)) {
        piece.text = step.replacement + piece.text;
      }
      if (!step.split) {
        out.push_back(std::move(piece));
        return;
      }
      for (std::size_t at = piece.text.find(step.replacement); at != std::string::npos;
           at = piece.text.find(step.replacement, at + step.replacement.size())) {
        matches.push_back({at, at + step.replacement.size()});
      }
      behavior = Behavior::kMergedWithNext;
      break;
    }
  }
  std::vector<Range> ranges = Alternate(piece.text.size(), matches, step.invert);
  // Merging a delimiter into its neighbour, as the Rust tokenizers' SplitDelimiterBehavior does.
  std::vector<Range> merged;
  bool previous_match = false;
  switch (behavior) {
    case Behavior::kIsolated:
      merged = std::move(ranges);
      break;
    case Behavior::kRemoved:
      for (const Range& r : ranges) {
        if (!r.is_match) merged.push_back(r);
      }
      break;
    case Behavior::kMergedWithPrevious:
      for (const Range& r : ranges) {
        if (r.is_match && !previous_match && !merged.empty()) {
          merged.back().end = r.end;
        } else {
          merged.push_back(r);
        }
        previous_match = r.is_match;
      }
      break;
    case Behavior::kMergedWithNext:
      for (auto it = ranges.rbegin(); it != ranges.rend(); ++it) {
        if (it->is_match && !previous_match && !merged.empty()) {
          merged.back().begin = it->begin;
        } else {
          merged.push_back(*it);
        }
        previous_match = it->is_match;
      }
      std::reverse(merged.begin(), merged.end());
      break;
  }
  for (const Range& r : merged) {
    if (r.end == r.begin) continue;
    out.push_back(
        {piece.text.substr(r.begin, r.end - r.begin), piece.at_input_start && r.begin == 0});
  }
}

void PreTokenizer::Split(std::string_view text, bool at_input_start,
                         std::vector<std::string>& words) const {
  if (text.empty()) return;
  std::vector<Piece> pieces = {{std::string(text), at_input_start}};
  std::vector<Piece> next;
  for (const Step& step : steps_) {
    next.clear();
    for (Piece& piece : pieces) Apply(step, std::move(piece), next);
    pieces.swap(next);
  }
  for (Piece& piece : pieces) words.push_back(std::move(piece.text));
}

}  // namespace ghost::tokenizer
