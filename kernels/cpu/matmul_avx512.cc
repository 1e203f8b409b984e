// AVX-512 micro-kernels (this file alone is compiled with -mavx512f -mavx512bw -mavx512vl
// -mfma). Weights are widened to fp32 in registers and activations stay fp32, so results
// match the scalar reference to rounding; vdpbf16ps would round the activations to bf16.
// Internal linkage and no standard-library templates, for the reason given in
// matmul_avx2.cc.
#include <immintrin.h>

#include <cstdint>
#include <utility>

#include "kernels/cpu/matmul_internal.h"
#include "kernels/cpu/matmul_tiled.h"
#include "kernels/cpu/prefetch.h"

namespace ghost::kernels::internal {
namespace {

// 4 weight rows x 4 tokens. (3 x 8 and 2 x 8 measured much slower at n = 8: GCC then
// re-reads every activation from L2 once per row.)
constexpr int kTileRows = 4;
constexpr int kTileTokens = 4;

// How each stored format becomes 16 fp32 lanes: Load16 for a full vector, LoadTail for the
// last (masked) one, whose masked-off lanes read as zeros.
struct F32Format {
  using Weight = float;
  static __m512 Load16(const float* p) { return _mm512_loadu_ps(p); }
  static __m512 LoadTail(__mmask16 mask, const float* p) { return _mm512_maskz_loadu_ps(mask, p); }
};

// bf16 is the top half of an fp32: widen to 32 bits and shift left by 16.
struct Bf16Format {
  using Weight = std::uint16_t;
  static __m512 Widen(__m256i halves) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(halves), 16));
  }
  static __m512 Load16(const std::uint16_t* p) {
    return Widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static __m512 LoadTail(__mmask16 mask, const std::uint16_t* p) {
    return Widen(_mm256_maskz_loadu_epi16(mask, p));
  }
};

// IEEE fp16: vcvtph2ps (AVX512F) converts exactly, subnormals included.
struct F16Format {
  using Weight = std::uint16_t;
  static __m512 Load16(const std::uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static __m512 LoadTail(__mmask16 mask, const std::uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, p));
  }
};

// Software prefetch distance for tiles of several tokens. Those do 4 or more FMAs per weight
// vector, so the core is busy long enough between loads that the hardware prefetcher falls
// behind; prefetching each row this far ahead measured 15-30% faster at n = 8 on Zen 5. At
// n = 1 (1 FMA per weight vector) it measured slower, so only multi-token tiles use it.
constexpr int kPrefetchBytes = 1024;

// Per 16 columns: the R weight vectors (widened once), then each token's activations loaded
// once and used for R FMAs: 16 accumulators + 4 weights + 1 activation at 4 x 4.
template <typename Format, int R, int T>
void Tile(const float* x, std::size_t ldx, const typename Format::Weight* w, std::size_t ldw,
          std::size_t kc, float* y, std::size_t ldy, bool accumulate) {
  __m512 acc[T][R];
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < R; ++r) acc[t][r] = _mm512_setzero_ps();
  }
  // The full-vector loop uses plain loads: with GCC's masked-load builtins inside it, acc
  // was stored to the stack every iteration.
  std::size_t c = 0;
  for (; c + 16 <= kc; c += 16) {
    __m512 wv[R];
    for (int r = 0; r < R; ++r) {
      if constexpr (T > 1) {
        _mm_prefetch(reinterpret_cast<const char*>(w + r * ldw + c) + kPrefetchBytes, _MM_HINT_T0);
      }
      wv[r] = Format::Load16(w + r * ldw + c);
    }
    for (int t = 0; t < T; ++t) {
      const __m512 xv = _mm512_loadu_ps(x + t * ldx + c);
      for (int r = 0; r < R; ++r) acc[t][r] = _mm512_fmadd_ps(xv, wv[r], acc[t][r]);
    }
  }
  if (c < kc) {  // Masked-off lanes read as zeros, which add nothing.
    const __mmask16 mask = static_cast<__mmask16>((1u << (kc - c)) - 1);
    __m512 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = Format::LoadTail(mask, w + r * ldw + c);
    for (int t = 0; t < T; ++t) {
      const __m512 xv = _mm512_maskz_loadu_ps(mask, x + t * ldx + c);
      for (int r = 0; r < R; ++r) acc[t][r] = _mm512_fmadd_ps(xv, wv[r], acc[t][r]);
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

// How far ahead Row prefetches the weight stream (into L2). Consecutive rows are one linear
// stream, but at one FMA per weight vector a core keeps too few loads in flight for the
// hardware prefetchers alone: on the Sapphire Rapids VM bf16 at 2048x5632 went from 0.63-0.69
// to 0.85-0.90 of bandwidth with 8 KiB (2 threads, quiet, alternated; 2 and 4 KiB gave
// 0.78-0.87; 4096x14336 unchanged at 0.76-0.83).
constexpr std::size_t kRowPrefetchBytes = 8192;

// TileSet::row: one row, one token, 4 independent accumulators over 64 columns per step
// (one accumulator would wait on the FMA latency). 2 and 8 measured no better.
template <typename Format>
void Row(const float* x, std::size_t /*ldx*/, const typename Format::Weight* w, std::size_t /*ldw*/,
         std::size_t kc, float* y, std::size_t /*ldy*/, bool accumulate) {
  constexpr int kUnroll = 4;
  __m512 acc[kUnroll];
  for (int u = 0; u < kUnroll; ++u) acc[u] = _mm512_setzero_ps();
  std::size_t c = 0;
  for (; c + 16 * kUnroll <= kc; c += 16 * kUnroll) {
    const std::uintptr_t ahead = reinterpret_cast<std::uintptr_t>(w + c) + kRowPrefetchBytes;
    for (std::size_t b = 0; b < 16 * kUnroll * sizeof(*w); b += 64) PrefetchL2(ahead + b);
    for (int u = 0; u < kUnroll; ++u) {
      acc[u] =
          _mm512_fmadd_ps(_mm512_loadu_ps(x + c + 16 * u), Format::Load16(w + c + 16 * u), acc[u]);
    }
  }
  for (; c + 16 <= kc; c += 16) {
    acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(x + c), Format::Load16(w + c), acc[0]);
  }
  if (c < kc) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (kc - c)) - 1);
    acc[1] =
        _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, x + c), Format::LoadTail(mask, w + c), acc[1]);
  }
  const __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
  const float total = _mm512_reduce_add_ps(sum);
  *y = accumulate ? *y + total : total;
}

template <typename Format, int... Rs, int... Ts>
constexpr TileSet<typename Format::Weight> MakeTileSet(std::integer_sequence<int, Rs...>,
                                                       std::integer_sequence<int, Ts...>) {
  // Single rows for the 16-bit formats only: for f32 they measured no faster than 4-row tiles.
  constexpr bool kHalf = sizeof(typename Format::Weight) == 2;
  TileSet<typename Format::Weight> set{kTileRows, kTileTokens, {}, kHalf ? &Row<Format> : nullptr};
  const auto fill_row = [&]<int R>() { ((set.fns[R][Ts] = &Tile<Format, R + 1, Ts + 1>), ...); };
  (fill_row.template operator()<Rs>(), ...);
  return set;
}

template <typename Format>
constexpr TileSet<typename Format::Weight> kTiles = MakeTileSet<Format>(
    std::make_integer_sequence<int, kTileRows>{}, std::make_integer_sequence<int, kTileTokens>{});

}  // namespace

void MatMulF32Avx512(const float* x, std::size_t n, const float* w, std::size_t rows,
                     std::size_t cols, float* y, std::size_t ldy) {
  RunTiled(kTiles<F32Format>, x, n, w, rows, cols, y, ldy);
}

void MatMulBf16Avx512(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
                      std::size_t cols, float* y, std::size_t ldy) {
  RunTiled(kTiles<Bf16Format>, x, n, w, rows, cols, y, ldy);
}

void MatMulF16Avx512(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
                     std::size_t cols, float* y, std::size_t ldy) {
  RunTiled(kTiles<F16Format>, x, n, w, rows, cols, y, ldy);
}

}  // namespace ghost::kernels::internal
