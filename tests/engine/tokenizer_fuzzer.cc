// libFuzzer target: tokenizer.json parsing, then encoding and decoding of some text with the
// result. An input is the tokenizer.json text, a NUL byte, and the text to encode (any bytes).
// Besides crashes, leaks and sanitizer reports it checks the tokenizer's own promises: every id
// Encode returns decodes, and streaming decodes to the same text as Decode.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/common/utf8.h"
#include "engine/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find('\0');
  const std::string_view json = input.substr(0, split);
  const std::string_view text =
      split == std::string_view::npos ? std::string_view() : input.substr(split + 1);
  absl::StatusOr<std::unique_ptr<ghost::Tokenizer>> tokenizer =
      ghost::Tokenizer::FromJson(json, "fuzz/tokenizer.json");
  if (!tokenizer.ok()) {
    // Errors must name the file.
    if (tokenizer.status().message().find("fuzz/tokenizer.json") == absl::string_view::npos) {
      std::abort();
    }
    return 0;
  }
  for (const bool special : {false, true}) {
    const std::vector<std::int32_t> ids = (*tokenizer)->Encode(text, special, special);
    const absl::StatusOr<std::string> decoded = (*tokenizer)->Decode(ids, /*skip_special=*/true);
    if (!decoded.ok()) std::abort();
    ghost::StreamDecoder stream(**tokenizer);
    std::string streamed;
    for (std::int32_t id : ids) streamed += stream.Append(id);
    streamed += stream.Flush();
    std::string repaired = *decoded;
    if (streamed != ghost::TakeValidUtf8(repaired, /*flush=*/true)) std::abort();
  }
  return 0;
}
