// libFuzzer target: the GGUF parser (GgufFile::FromBytes) on arbitrary bytes, then every typed
// metadata read and every tensor's bytes. Besides crashes, leaks and sanitizer reports it checks
// the parser's promises: errors name the file, and every tensor view lies inside the input with
// exactly the bytes its type and dims need (each is read in full, so ASan sees any stray byte);
// ternary tensors are decoded block by block as the loader does, and the vocabulary keys are
// turned into a tokenizer.json document (gguf_vocab.h).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/checkpoint/gguf.h"
#include "engine/checkpoint/gguf_types.h"
#include "engine/checkpoint/gguf_vocab.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  absl::StatusOr<std::unique_ptr<ghost::GgufFile>> file =
      ghost::GgufFile::FromBytes(data, size, "fuzz.gguf");
  if (!file.ok()) {
    if (file.status().message().find("fuzz.gguf") == absl::string_view::npos) std::abort();
    return 0;
  }
  std::uint8_t checksum = 0;
  for (const auto& [key, value] : (*file)->metadata()) {
    // Each typed read either answers or refuses; none may read out of bounds.
    (void)(*file)->GetString(key);
    (void)(*file)->GetInt(key);
    (void)(*file)->GetReal(key);
    (void)(*file)->GetBool(key);
    (void)(*file)->GetStringArray(key);
    (void)(*file)->GetIntArray(key);
    (void)(*file)->GetRealArray(key);
  }
  // The tokenizer.json built from hostile vocabulary keys: an error or a document; an exception
  // escaping it or a sanitizer report fails the run.
  (void)ghost::GgufTokenizerJson(**file);
  for (const ghost::GgufTensor& t : (*file)->tensors()) {
    const std::optional<ghost::GgmlTypeInfo> info = ghost::FindGgmlType(t.type);
    if (!info) std::abort();
    const auto expected =
        static_cast<std::uint64_t>(t.num_elements()) / info->block_size * info->block_bytes;
    if (expected != t.nbytes) std::abort();
    if (t.nbytes > 0 && (t.data < data || t.data + t.nbytes > data + size)) std::abort();
    for (std::size_t i = 0; i < t.nbytes; ++i) checksum ^= t.data[i];
    ghost::TernaryBlock block;
    for (std::size_t b = 0; b * info->block_bytes < t.nbytes; ++b) {
      const std::uint8_t* p = t.data + b * info->block_bytes;
      if (t.type == static_cast<std::uint32_t>(ghost::GgmlType::kQ2_0)) {
        (void)ghost::DecodeQ2_0(p, block);
      } else if (t.type == static_cast<std::uint32_t>(ghost::GgmlType::kTQ2_0)) {
        (void)ghost::DecodeTQ2_0(p, block);
      } else if (t.type == static_cast<std::uint32_t>(ghost::GgmlType::kTQ1_0)) {
        ghost::DecodeTQ1_0(p, block);
      }
    }
    checksum ^= static_cast<std::uint8_t>(block.codes[0]);
  }
  volatile std::uint8_t sink = checksum;  // keeps the reads from being optimized away
  (void)sink;
  return 0;
}
