// CPU matrix products used by the model forward. Plain C++: no absl, no engine types.
//
// Weights are row-major [rows, cols] (PyTorch's nn.Linear layout [out, in]); activations are
// fp32 row-major [n, cols]; outputs fp32 [n, rows]. Every entry point dispatches once, at
// first use, to the best variant this CPU supports (scalar reference, AVX2+FMA, AVX-512).
#ifndef GHOST_KERNELS_CPU_MATMUL_H_
#define GHOST_KERNELS_CPU_MATMUL_H_

#include <cstddef>
#include <cstdint>

namespace ghost::kernels {

enum class CpuIsa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// The variant chosen from CPUID at start-up.
CpuIsa DetectedIsa();
const char* IsaName(CpuIsa isa);

// y[t, r] = sum_c x[t, c] * w[r, c]   for t < n, r < rows.
void MatMulF32(const float* x, std::size_t n, const float* w, std::size_t rows, std::size_t cols,
               float* y);
// Same with bf16 weights (raw uint16 bit patterns), fp32 accumulation.
void MatMulBf16(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
                std::size_t cols, float* y);
// Same with IEEE fp16 weights (raw uint16 bit patterns), fp32 accumulation.
void MatMulF16(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
               std::size_t cols, float* y);

// Explicit variants, for tests and benchmarks. Calling a variant the CPU lacks is undefined;
// check IsaSupported() first.
bool IsaSupported(CpuIsa isa);
void MatMulF32Isa(CpuIsa isa, const float* x, std::size_t n, const float* w, std::size_t rows,
                  std::size_t cols, float* y);
void MatMulBf16Isa(CpuIsa isa, const float* x, std::size_t n, const std::uint16_t* w,
                   std::size_t rows, std::size_t cols, float* y);
void MatMulF16Isa(CpuIsa isa, const float* x, std::size_t n, const std::uint16_t* w,
                  std::size_t rows, std::size_t cols, float* y);

// AMX tiles (Intel Sapphire Rapids and later). Where AmxEnabled(), the AVX-512 variants of
// MatMulBf16 and MatMulQuant hand products of many tokens (prefill chunks, large batched
// steps) to tile kernels, which compute what the other variants do up to fp32 summation
// order (bf16 products split each activation into three bf16 terms; the low-bit ones take
// the same integer dot products).
// AmxSupported(): the CPU has AMX-TILE, -INT8, -BF16 and AVX-512 BF16, and Linux granted
// this process the tile state (arch_prctl, asked once). AmxEnabled(): supported and not
// switched off, by GHOST_DISABLE_AMX=1 in the environment at start-up or by SetAmxEnabled
// (tests and benchmarks; not while products run). Unsupported, both stay false silently.
bool AmxSupported();
bool AmxEnabled();
void SetAmxEnabled(bool enabled);

// bf16 <-> fp32 conversion (round to nearest even, NaN preserved), and IEEE fp16 -> fp32
// (exact, subnormals included; the encoder is compress::F32ToF16).
float Bf16ToF32(std::uint16_t v);
std::uint16_t F32ToBf16(float v);
float F16ToF32(std::uint16_t v);

}  // namespace ghost::kernels

#endif  // GHOST_KERNELS_CPU_MATMUL_H_
