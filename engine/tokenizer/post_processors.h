// tokenizer.json "post_processor", applied when the caller asks for special tokens: the ids of
// one sequence get a fixed prefix and suffix (BOS for Llama, <s> ... </s> for RoBERTa).
// Supported: TemplateProcessing (its "single" template), RobertaProcessing, BertProcessing,
// ByteLevel (changes only offsets, so nothing here) and Sequence of these.
#ifndef GHOST_ENGINE_TOKENIZER_POST_PROCESSORS_H_
#define GHOST_ENGINE_TOKENIZER_POST_PROCESSORS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer_json.h"

namespace ghost::tokenizer {

class PostProcessor {
 public:
  // `json` is the "post_processor" object (not null); every id it adds must satisfy `is_token`.
  static absl::StatusOr<std::unique_ptr<PostProcessor>> FromJson(
      const JsonReader& json, const std::function<bool(std::int64_t)>& is_token);

  // prefix + ids + suffix.
  void Apply(std::vector<std::int32_t>& ids) const;

 private:
  absl::Status Add(const JsonReader& json, const std::function<bool(std::int64_t)>& is_token,
                   int depth);
  absl::Status AddTemplate(const JsonReader& json,
                           const std::function<bool(std::int64_t)>& is_token);

  std::vector<std::int32_t> prefix_;
  std::vector<std::int32_t> suffix_;
};

}  // namespace ghost::tokenizer

#endif  // GHOST_ENGINE_TOKENIZER_POST_PROCESSORS_H_
