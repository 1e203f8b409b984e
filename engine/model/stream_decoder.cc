#include "engine/common/utf8.h"
#include "engine/model/tokenizer.h"

namespace ghost {

std::string StreamDecoder::Append(std::int32_t id) {
  absl::StatusOr<std::string> bytes = tokenizer_.Decode({id}, /*skip_special=*/true);
  // An id past the tokenizer's vocabulary (the model's may be padded) has no text.
  pending_ += bytes.ok() ? *bytes : std::string(kReplacementCharacter);
  return TakeValidUtf8(pending_, /*flush=*/false);
}

std::string StreamDecoder::Flush() { return TakeValidUtf8(pending_, /*flush=*/true); }

}  // namespace ghost
