// fp32 -> fp16 conversion for stored scales and codebooks. kernels/cpu/matmul.h has the
// other direction (F16ToF32) but no encoder, and kernels/ is not ours to extend here.
#ifndef GHOST_ENGINE_COMPRESS_FP16_H_
#define GHOST_ENGINE_COMPRESS_FP16_H_

#include <cstdint>

namespace ghost::compress {

// IEEE binary16 bits of value: round to nearest, ties to even; subnormals kept; values
// from 65520 up become Inf; NaN stays a (quiet) NaN.
std::uint16_t F32ToF16(float value);

// Like F32ToF16 for a non-negative scale, but saturating at the largest finite fp16
// (65504) so that a stored scale is never Inf.
std::uint16_t ScaleToF16(float scale);

}  // namespace ghost::compress

#endif  // GHOST_ENGINE_COMPRESS_FP16_H_
