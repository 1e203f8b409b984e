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

inline __m256 Load8(const float* p) { return _mm256_loadu_ps(p); }
// bf16 is the top half of an fp32: widen to 32 bits and shift left by 16.
inline __m256 Load8(const std::uint16_t* p) {
  const __m128i halves = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(halves), 16));
}

inline float ToFloat(float v) { return v; }
inline float ToFloat(std::uint16_t v) {
  const std::uint32_t bits = std::uint32_t{v} << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <typename Weight, int R, int T>
void Tile(const float* x, std::size_t ldx, const Weight* w, std::size_t ldw, std::size_t kc,
          float* y, std::size_t ldy, bool accumulate) {
  __m256 acc[T][R];
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < R; ++r) acc[t][r] = _mm256_setzero_ps();
  }
  std::size_t c = 0;
  for (; c + 8 <= kc; c += 8) {
    __m256 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = _mm256_loadu_ps(x + t * ldx + c);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = Load8(w + r * ldw + c);
      for (int t = 0; t < T; ++t) acc[t][r] = _mm256_fmadd_ps(xv[t], wv, acc[t][r]);
    }
  }
  float sums[T][R];
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < R; ++r) sums[t][r] = HorizontalSum(acc[t][r]);
  }
  for (; c < kc; ++c) {  // Fewer than 8 columns left.
    for (int t = 0; t < T; ++t) {
      for (int r = 0; r < R; ++r) sums[t][r] += x[t * ldx + c] * ToFloat(w[r * ldw + c]);
    }
  }
  for (int t = 0; t < T; ++t) {
    for (int r = 0; r < R; ++r) {
      float& out = y[t * ldy + r];
      out = accumulate ? out + sums[t][r] : sums[t][r];
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

void MatMulF32Avx2(const float* x, std::size_t n, const float* w, std::size_t rows,
                   std::size_t cols, float* y, std::size_t ldy) {
  RunTiled(kTiles<float>, x, n, w, rows, cols, y, ldy);
}

void MatMulBf16Avx2(const float* x, std::size_t n, const std::uint16_t* w, std::size_t rows,
                    std::size_t cols, float* y, std::size_t ldy) {
  RunTiled(kTiles<std::uint16_t>, x, n, w, rows, cols, y, ldy);
}

}  // namespace ghost::kernels::internal
