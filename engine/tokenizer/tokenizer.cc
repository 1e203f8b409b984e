// Chooses the tokenizer a tokenizer.json describes; decoding shared by all of them.
#include "engine/tokenizer/tokenizer.h"

#include "engine/common/file.h"
#include "engine/common/json.h"
#include "engine/common/status_macros.h"
#include "engine/tokenizer/bpe_tokenizer.h"
#include "engine/tokenizer/byte_level_tokenizer.h"

namespace ghost {

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromFile(const std::string& path) {
  GHOST_ASSIGN_OR_RETURN(const std::string contents, ReadFileToString(path));
  return FromJson(contents, path);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(std::string_view json,
                                                               const std::string& source_name) {
  GHOST_ASSIGN_OR_RETURN(const nlohmann::json parsed, ParseJsonStrict(json, source_name));
  // The byte-level tokenizer is a BPE without merges too, but it keeps invalid UTF-8 byte for
  // byte, which the general BPE path (repairing it first) would not.
  if (tokenizer::IsByteLevelTokenizer(parsed)) {
    return tokenizer::CreateByteLevelTokenizer(parsed, source_name);
  }
  return tokenizer::CreateBpeTokenizer(parsed, source_name);
}

absl::StatusOr<std::string> Tokenizer::Decode(absl::Span<const std::int32_t> ids,
                                              bool skip_special) const {
  std::string out;
  std::size_t position = 0;
  for (std::int32_t id : ids) {
    if (skip_special && IsSpecial(id)) continue;
    GHOST_RETURN_IF_ERROR(AppendDecoded(id, position++, out));
  }
  return out;
}

}  // namespace ghost
