#include "engine/common/utf8.h"
#include "engine/tokenizer/tokenizer.h"

namespace ghost {

std::string StreamDecoder::Append(std::int32_t id) {
  if (tokenizer_.IsSpecial(id)) return std::string();
  // An id past the tokenizer's vocabulary (the model's may be padded) has no text.
  if (!tokenizer_.AppendDecoded(id, position_, pending_).ok()) {
    pending_ += kReplacementCharacter;
  }
  ++position_;
  return TakeValidUtf8(pending_, /*flush=*/false);
}

std::string StreamDecoder::Flush() { return TakeValidUtf8(pending_, /*flush=*/true); }

}  // namespace ghost
