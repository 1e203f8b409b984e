#include "engine/tokenizer/post_processors.h"

#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"

namespace ghost::tokenizer {
namespace {

constexpr std::string_view kSupported =
    "TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence";

// RobertaProcessing / BertProcessing name a token as ["<s>", 0].
absl::StatusOr<std::int32_t> ReadNamedId(const JsonReader& json, std::string_view key,
                                         const std::function<bool(std::int64_t)>& is_token) {
  const Json* value = json.Has(key) ? &json.Child(key).value() : nullptr;
  std::int64_t id = 0;
  if (value == nullptr || !value->is_array() || value->size() != 2 || !(*value)[0].is_string() ||
      !JsonInteger((*value)[1], 0, INT32_MAX, id) || !is_token(id)) {
    return json.Error(
        absl::StrCat("\"", View(key), "\" must be [token, id] with an id in the vocabulary"));
  }
  return static_cast<std::int32_t>(id);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostProcessor>> PostProcessor::FromJson(
    const JsonReader& json, const std::function<bool(std::int64_t)>& is_token) {
  auto processor = std::unique_ptr<PostProcessor>(new PostProcessor());
  GHOST_RETURN_IF_ERROR(processor->Add(json, is_token, 0));
  return processor;
}

absl::Status PostProcessor::Add(const JsonReader& json,
                                const std::function<bool(std::int64_t)>& is_token, int depth) {
  if (depth > kMaxNesting) return json.Error("post-processors nested too deeply");
  GHOST_ASSIGN_OR_RETURN(const std::string& type, json.String("type"));
  if (type == "Sequence") {
    GHOST_ASSIGN_OR_RETURN(const std::vector<JsonReader> items, json.Array("processors"));
    for (const JsonReader& item : items) GHOST_RETURN_IF_ERROR(Add(item, is_token, depth + 1));
    return absl::OkStatus();
  }
  if (type == "ByteLevel") return absl::OkStatus();
  if (type == "TemplateProcessing") return AddTemplate(json, is_token);
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    GHOST_ASSIGN_OR_RETURN(const std::int32_t cls, ReadNamedId(json, "cls", is_token));
    GHOST_ASSIGN_OR_RETURN(const std::int32_t sep, ReadNamedId(json, "sep", is_token));
    // Each processor of a Sequence wraps what the previous ones produced.
    prefix_.insert(prefix_.begin(), cls);
    suffix_.push_back(sep);
    return absl::OkStatus();
  }
  return json.Unsupported(absl::StrCat("post-processor ", type), kSupported);
}

absl::Status PostProcessor::AddTemplate(const JsonReader& json,
                                        const std::function<bool(std::int64_t)>& is_token) {
  GHOST_ASSIGN_OR_RETURN(const std::vector<JsonReader> single, json.Array("single"));
  GHOST_ASSIGN_OR_RETURN(const JsonReader special_tokens, json.Object("special_tokens"));
  std::vector<std::int32_t> before, after;
  bool seen_sequence = false;
  for (const JsonReader& item : single) {
    if (item.Has("Sequence")) {
      GHOST_ASSIGN_OR_RETURN(const JsonReader sequence, item.Object("Sequence"));
      GHOST_ASSIGN_OR_RETURN(const std::string id, sequence.String("id"));
      if (id != "A" || seen_sequence) {
        return item.Error("the single template must hold sequence A exactly once");
      }
      seen_sequence = true;
      continue;
    }
    GHOST_ASSIGN_OR_RETURN(const JsonReader special, item.Object("SpecialToken"));
    GHOST_ASSIGN_OR_RETURN(const std::string name, special.String("id"));
    if (!special_tokens.Has(name)) {
      return special.Error(absl::StrCat("\"", name, "\" is not in special_tokens"));
    }
    const JsonReader entry = special_tokens.Child(name);
    GHOST_ASSIGN_OR_RETURN(const std::vector<JsonReader> ids, entry.Array("ids"));
    for (const JsonReader& id_json : ids) {
      std::int64_t id = 0;
      if (!JsonInteger(id_json.value(), 0, INT32_MAX, id) || !is_token(id)) {
        return id_json.Error("must be an id in the vocabulary");
      }
      (seen_sequence ? after : before).push_back(static_cast<std::int32_t>(id));
    }
  }
  if (!seen_sequence) return json.Error("the single template has no sequence A");
  prefix_.insert(prefix_.begin(), before.begin(), before.end());
  suffix_.insert(suffix_.end(), after.begin(), after.end());
  return absl::OkStatus();
}

void PostProcessor::Apply(std::vector<std::int32_t>& ids) const {
  ids.insert(ids.begin(), prefix_.begin(), prefix_.end());
  ids.insert(ids.end(), suffix_.begin(), suffix_.end());
}

}  // namespace ghost::tokenizer
