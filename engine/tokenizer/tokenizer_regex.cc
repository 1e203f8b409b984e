#include "engine/tokenizer/tokenizer_regex.h"

#include <algorithm>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"
#include "engine/tokenizer/tokenizer_unicode.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace ghost::tokenizer {
namespace {

// Bounds the backtracking of one match attempt; tokenizer patterns need a few steps per byte.
constexpr std::uint32_t kMatchLimit = 10'000'000;

std::string TranslateOniguruma(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 16);
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '\\' || i + 1 == pattern.size()) {
      out.push_back(pattern[i]);
      continue;
    }
    const char next = pattern[++i];
    if (next == 's') {
      out += "\\p{White_Space}";
    } else if (next == 'S') {
      out += "\\P{White_Space}";
    } else {
      out.push_back('\\');
      out.push_back(next);
    }
  }
  return out;
}

// One match context and JIT stack per thread: PCRE2 allows sharing compiled code between
// threads but not these. The default 32 KiB JIT stack is too small for long whitespace runs.
class ThreadMatchContext {
 public:
  ThreadMatchContext()
      : context_(pcre2_match_context_create(nullptr)),
        stack_(pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr)) {
    if (context_ == nullptr) return;
    pcre2_set_match_limit(context_, kMatchLimit);
    if (stack_ != nullptr) pcre2_jit_stack_assign(context_, nullptr, stack_);
  }
  ~ThreadMatchContext() {
    pcre2_jit_stack_free(stack_);
    pcre2_match_context_free(context_);
  }
  ThreadMatchContext(const ThreadMatchContext&) = delete;
  ThreadMatchContext& operator=(const ThreadMatchContext&) = delete;

  pcre2_match_context* get() const { return context_; }

 private:
  pcre2_match_context* context_;
  pcre2_jit_stack* stack_;
};

struct MatchDataDeleter {
  void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};

}  // namespace

void Regex::CodeDeleter::operator()(void* code) const {
  pcre2_code_free(static_cast<pcre2_code*>(code));
}

absl::StatusOr<Regex> Regex::Compile(std::string_view pattern, bool literal) {
  const std::string translated = literal ? std::string(pattern) : TranslateOniguruma(pattern);
  int error = 0;
  PCRE2_SIZE offset = 0;
  const std::uint32_t options = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()),
                                   translated.size(), options, &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return absl::InvalidArgumentError(absl::StrCat("regex \"", View(pattern),
                                                   "\" is invalid at offset ", offset, ": ",
                                                   reinterpret_cast<const char*>(message)));
  }
  // JIT is an optimisation only; the interpreter runs the same pattern when it is unavailable.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return Regex(code);
}

bool Regex::FindAll(std::string_view text, std::vector<Match>& matches) const {
  thread_local ThreadMatchContext context;
  auto* code = static_cast<pcre2_code*>(code_.get());
  const std::unique_ptr<pcre2_match_data, MatchDataDeleter> data(
      pcre2_match_data_create_from_pattern(code, nullptr));
  if (data == nullptr) return false;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  std::size_t start = 0;
  while (start < text.size()) {
    // The caller guarantees valid UTF-8, so PCRE2 need not check it again at every start.
    const int rc = pcre2_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, data.get(),
                               context.get());
    if (rc == PCRE2_ERROR_NOMATCH) return true;
    if (rc < 0) return false;
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data.get());
    const std::size_t begin = ovector[0];
    const std::size_t end = ovector[1];
    if (end > begin) {
      matches.push_back({begin, end});
      start = end;
    } else {
      // An empty match yields nothing; step over one character.
      const std::size_t at = std::max(start, begin);
      if (at >= text.size()) return true;
      start = at + Utf8Length(static_cast<unsigned char>(text[at]));
    }
  }
  return true;
}

absl::StatusOr<Regex> ReadPattern(const JsonReader& json, std::string_view key) {
  GHOST_ASSIGN_OR_RETURN(const JsonReader pattern, json.Object(key));
  const bool literal = pattern.Has("String");
  if (literal == pattern.Has("Regex")) {
    return pattern.Error("needs exactly one of \"String\" and \"Regex\"");
  }
  GHOST_ASSIGN_OR_RETURN(const std::string text, pattern.String(literal ? "String" : "Regex"));
  if (literal && text.empty()) return pattern.Error("empty \"String\" pattern");
  absl::StatusOr<Regex> regex = Regex::Compile(text, literal);
  if (!regex.ok()) return pattern.Error(std::string(regex.status().message()));
  return regex;
}

}  // namespace ghost::tokenizer
