// AVX2 + FMA micro-kernels (this file alone is compiled with -mavx2 -mfma -mf16c).
// Everything here has internal linkage and uses no standard-library templates, so that no
// AVX2-compiled copy of a shared inline function can be picked by the linker for callers
// that run on older CPUs.
#include <immintrin.h>

#include <cstring>
#include <utility>

#include "kernels/cpu/matmul_internal.h"
#include "kernels/cpu/matmul_tiled.h"

namespace ghost::kernels::internal {
namespace {

// 4 weight rows x 3 tokens: 12 accumulators + 3 activations + 1 weight = all 16 registers.
constexpr int kTileRows = 4;
constexpr int kTileTokens = 3;

// How each stored format becomes 8 fp32 lanes (Load8) or one (ToFloat, for the column tail).
struct F32Format {
  using Weight = float;
  static __m256 Load8(const float* p) { return _mm256_loadu_ps(p); }
  static float ToFloat(float v) { return v; }
};

// bf16 is the top half of an fp32: widen to 32 bits and shift left by 16.
struct Bf16Format {
  using Weight = std::uint16_t;
  static __m256 Load8(const std::uint16_t* p) {
    const __m128i halves = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(halves), 16));
  }
  static float ToFloat(std::uint16_t v) {
    const std::uint32_t bits = std::uint32_t{v} << 16;
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    return f;
  }
};

// IEEE fp16: F16C's vcvtph2ps converts exactly, subnormals included.
struct F16Format {
  using Weight = std::uint16_t;
  static __m256 Load8(const std::uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static float ToFloat(std::uint16_t v) { return _cvtsh_ss(v); }
};

inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// As in matmul_avx512.cc: multi-token tiles prefetch each weight row this far ahead.
constexpr int kPrefetchBytes = 1024;

template <typename Format, int R, int T>
void Tile(const float* x, std::size_t ldx, const typename Format::Weight* w, std::size_t ldw,
          std::size_t kc, float* y, std::size_t ldy, bool accumulate) {
  __m256 acc[T][R];
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < R; ++r) acc[t][r] = _mm256_setzero_ps();
  }
  std::size_t c = 0;
  for (; c + 8 <= kc; c += 8) {
    __m256 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = _mm256_loadu_ps(x + t * ldx + c);
    for (int r = 0; r < R; ++r) {
      if constexpr (T > 1) {  // See kPrefetchBytes.
        _mm_prefetch(reinterpret_cast<const char*>(w + r * ldw + c) + kPrefetchBytes, _MM_HINT_T0);
      }
      const __m256 wv = Format::Load8(w + r * ldw + c);
      for (int t = 0; t < T; ++t) acc[t][r] = _mm256_fmadd_ps(xv[t], wv, acc[t][r]);
    }
  }
  float sums[T][R];
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < R; ++r) sums[t][r] = HorizontalSum(acc[t][r]);
  }
  for (; c < kc; ++c) {  // Fewer than 8 columns left.
    for (int t = 0; t < T; ++t) {
      for (int r = 0; r < R; ++r) sums[t][r] += x[t * ldx + c] * Format::ToFloat(w[r * ldw + c]);
    }
  }
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < R; ++r) {
      float& out = y[t * ldy + r];
      out = accumulate ? out + sums[t][r] : sums[t][r];
    }
  }
}

// TileSet::row: one row, one token, 4 independent accumulators over 32 columns per step.
template <typename Format>
void Row(const float* x, std::size_t /*ldx*/, const typename Format::Weight* w, std::size_t /*ldw*/,
         std::size_t kc, float* y, std::size_t /*ldy*/, bool accumulate) {
  constexpr int kUnroll = 4;
  __m256 acc[kUnroll];
  for (int u = 0; u < kUnroll; ++u) acc[u] = _mm256_setzero_ps();
  std::size_t c = 0;
  for (; c + 8 * kUnroll <= kc; c += 8 * kUnroll) {
    for (int u = 0; u < kUnroll; ++u) {
      acc[u] =
          _mm256_fmadd_ps(_mm256_loadu_ps(x + c + 8 * u), Format::Load8(w + c + 8 * u), acc[u]);
    }
  }
  for (; c + 8 <= kc; c += 8) {
    acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + c), Format::Load8(w + c), acc[0]);
  }
  float total =
      HorizontalSum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; c < kc; ++c) total += x[c] * Format::ToFloat(w[c]);  // Fewer than 8 columns left.
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

void MatMulF32Avx2(const float* x, std::size_t n, const float* w, std::size_t rows,
                   std::size_t cols, float* y, std::size_t ldy) {
  RunTiled(kTiles<F32Format>, x, n, w, rows, cols, y, ldy);
}

void MatMulBf16Avx2(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
                    std::size_t cols, float* y, std::size_t ldy) {
  RunTiled(kTiles<Bf16Format>, x, n, w, rows, cols, y, ldy);
}

void MatMulF16Avx2(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
                   std::size_t cols, float* y, std::size_t ldy) {
  RunTiled(kTiles<F16Format>, x, n, w, rows, cols, y, ldy);
}

}  // namespace ghost::kernels::internal
