// AVX-512 micro-kernels (this file alone is compiled with -mavx512f -mavx512bw -mavx512vl
// -mfma). Weights are widened to fp32 in registers and activations stay fp32, so results
// match the scalar reference to rounding; vdpbf16ps would round the activations to bf16.
// Internal linkage and no standard-library templates, for the reason given in
// matmul_avx2.cc.
#include <immintrin.h>

#include <utility>

#include "kernels/cpu/matmul_internal.h"
#include "kernels/cpu/matmul_tiled.h"

namespace ghost::kernels::internal {
namespace {

// 4 weight rows x 4 tokens: 16 accumulators + 4 activations + 1 weight of 32 registers.
// (3 x 8 with the weights held instead measured slower at n = 8: GCC then re-reads every
// activation from memory once per row.)
constexpr int kTileRows = 4;
constexpr int kTileTokens = 4;

inline __m512 Load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 LoadTail(__mmask16 mask, const float* p) { return _mm512_maskz_loadu_ps(mask, p); }
// bf16 is the top half of an fp32: widen to 32 bits and shift left by 16.
inline __m512 Bf16ToF32(__m256i halves) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(halves), 16));
}
inline __m512 Load16(const std::uint16_t* p) {
  return Bf16ToF32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 LoadTail(__mmask16 mask, const std::uint16_t* p) {
  return Bf16ToF32(_mm256_maskz_loadu_epi16(mask, p));
}

template <typename Weight, int R, int T>
void Tile(const float* x, std::size_t ldx, const Weight* w, std::size_t ldw, std::size_t kc,
          float* y, std::size_t ldy, bool accumulate) {
  __m512 acc[T][R];
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < R; ++r) acc[t][r] = _mm512_setzero_ps();
  }
  // The full-vector loop uses plain loads: with GCC's masked-load builtins inside it, acc
  // was stored to the stack every iteration.
  std::size_t c = 0;
  for (; c + 16 <= kc; c += 16) {
    __m512 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = _mm512_loadu_ps(x + t * ldx + c);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = Load16(w + r * ldw + c);
      for (int t = 0; t < T; ++t) acc[t][r] = _mm512_fmadd_ps(xv[t], wv, acc[t][r]);
    }
  }
  if (c < kc) {  // Masked-off lanes read as zeros, which add nothing.
    const __mmask16 mask = static_cast<__mmask16>((1u << (kc - c)) - 1);
    __m512 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = LoadTail(mask, x + t * ldx + c);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = LoadTail(mask, w + r * ldw + c);
      for (int t = 0; t < T; ++t) acc[t][r] = _mm512_fmadd_ps(xv[t], wv, acc[t][r]);
    }
  }
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < R; ++r) {
      const float sum = _mm512_reduce_add_ps(acc[t][r]);
      float& out = y[t * ldy + r];
      out = accumulate ? out + sum : sum;
    }
  }
}

template <typename Weight, int... Rs, int... Ts>
constexpr TileSet<Weight> MakeTileSet(std::integer_sequence<int, Rs...>,
                                      std::integer_sequence<int, Ts...>) {
  TileSet<Weight> set{kTileRows, kTileTokens, {}};
  const auto fill_row = [&]<int R>() { ((set.fns[R][Ts] = &Tile<Weight, R + 1, Ts + 1>), ...); };
  (fill_row.template operator()<Rs>(), ...);
  return set;
}

template <typename Weight>
constexpr TileSet<Weight> kTiles = MakeTileSet<Weight>(
    std::make_integer_sequence<int, kTileRows>{}, std::make_integer_sequence<int, kTileTokens>{});

}  // namespace

void MatMulF32Avx512(const float* x, std::size_t n, const float* w, std::size_t rows,
                     std::size_t cols, float* y, std::size_t ldy) {
  RunTiled(kTiles<float>, x, n, w, rows, cols, y, ldy);
}

void MatMulBf16Avx512(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
                      std::size_t cols, float* y, std::size_t ldy) {
  RunTiled(kTiles<std::uint16_t>, x, n, w, rows, cols, y, ldy);
}

}  // namespace ghost::kernels::internal
