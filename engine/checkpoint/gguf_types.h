// The ggml tensor types a GGUF file can hold (ids as in ggml.h's `enum ggml_type`) and the
// block codecs of those Ghost Serve reads or writes. Layouts, as ggml-common.h and
// ggml-quants.c define them (all little-endian, fp16 = IEEE binary16):
//   Q8_0  (8)  32 weights, 34 bytes: fp16 d, int8 q[32];          w[j] = d * q[j]
//   Q4_0  (2)  32 weights, 18 bytes: fp16 d, u8 qs[16];           w[j] = d * ((qs[j] & 15) - 8),
//                                                                 w[j + 16] = d * ((qs[j] >> 4) -
//                                                                 8)
//   Q2_0  (42) 64 weights, 18 bytes: fp16 d, u8 qs[16];           q = qs[j / 4] >> 2 * (j % 4) & 3,
//                                                                 w[j] = d * (q - 1)  (q = 3: +2)
//   TQ2_0 (35) 256 weights, 66 bytes: u8 qs[64], fp16 d;          byte 32 * c + m, bits 2 * l hold
//                                                                 weight 128 * c + 32 * l + m,
//                                                                 w = d * (q - 1)
//   TQ1_0 (34) 256 weights, 54 bytes: u8 qs[48], u8 qh[4], fp16 d; five trits per qs byte and four
//              per qh byte, stored as ceil(v * 256 / 243) of the base-3 number v (most significant
//              trit first) so trit n is ((byte * 3^n mod 256) * 3) >> 8; qs[0..31] hold weights
//              32 * n + m, qs[32..47] weights 160 + 16 * n + m, qh[0..3] weights 240 + 4 * n + j.
// Q2_0's code bytes are exactly our ternary-2bit layout at block 64 (packing.h); TQ2_0 and TQ1_0
// hold the same ternary codes and fp16 scale per 256 weights as ternary-2bit / ternary-base3 at
// block 256, in another byte order, so converting between them is exact both ways.
#ifndef GHOST_ENGINE_CHECKPOINT_GGUF_TYPES_H_
#define GHOST_ENGINE_CHECKPOINT_GGUF_TYPES_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/types/span.h"

namespace ghost {

enum class GgmlType : std::uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ8_0 = 8,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kQ2_0 = 42,
};

struct GgmlTypeInfo {
  std::uint32_t id;
  const char* name;          // ggml's spelling: "Q8_0", "TQ2_0", ...
  std::uint32_t block_size;  // weights per block (1 for plain element types)
  std::uint32_t block_bytes;
};

// Every type id current ggml defines (0..42, less the removed ones); nullopt for any other id.
std::optional<GgmlTypeInfo> FindGgmlType(std::uint32_t id);
// "Q8_0" for a known id, "type <id>" for another.
std::string GgmlTypeName(std::uint32_t id);

inline constexpr std::size_t kQ2_0Block = 64;
inline constexpr std::size_t kTQBlock = 256;

// Dequantizes `blocks` of Q8_0 or Q4_0 into out (32 values per block). Requires out.size() ==
// 32 * number of blocks and blocks.size() a whole number of blocks.
void DequantizeQ8_0(absl::Span<const std::uint8_t> blocks, absl::Span<float> out);
void DequantizeQ4_0(absl::Span<const std::uint8_t> blocks, absl::Span<float> out);

// Any of F32, F16, BF16, Q8_0, Q4_0, Q2_0, TQ2_0, TQ1_0 to fp32 by ggml's formulas (exact: each
// value is a float, or an fp16 scale times a small integer). Requires bytes to hold exactly
// out.size() values of `type`; false (out untouched) for another type.
bool DequantizeToF32(std::uint32_t type, absl::Span<const std::uint8_t> bytes,
                     absl::Span<float> out);

// One block of ternary codes (-1, 0, +1) with its fp16 scale bits.
struct TernaryBlock {
  std::uint16_t scale_f16 = 0;
  std::int8_t codes[kTQBlock] = {};
};

// Decodes one Q2_0 block (18 bytes) into 64 codes. False when a code is 3 (the value +2, which
// no ternary format holds).
bool DecodeQ2_0(const std::uint8_t* block, TernaryBlock& out);
void EncodeQ2_0(const TernaryBlock& block, std::uint8_t* out);
// TQ2_0: 66 bytes, 256 codes. False on a code of 3.
bool DecodeTQ2_0(const std::uint8_t* block, TernaryBlock& out);
void EncodeTQ2_0(const TernaryBlock& block, std::uint8_t* out);
// TQ1_0: 54 bytes, 256 codes. Every byte decodes to some trits, as in ggml.
void DecodeTQ1_0(const std::uint8_t* block, TernaryBlock& out);
void EncodeTQ1_0(const TernaryBlock& block, std::uint8_t* out);

}  // namespace ghost

#endif  // GHOST_ENGINE_CHECKPOINT_GGUF_TYPES_H_
