// Internal to kernels/cpu: the vector operations the fused kernels (attention_kernel.h,
// elementwise_kernel.h) are written in. A "vector type" is a struct of static functions over
// its register type V holding kWidth floats: ScalarVec here (the reference, one float), Avx2Vec
// (vec_avx2.h) and Avx512Vec (vec_avx512.h), each included only by the translation units
// compiled with that ISA's flags. Everything has internal linkage and uses no
// standard-library templates, so no ISA-specific copy of a shared function can be picked by
// the linker for callers on other CPUs (see matmul_avx2.cc).
#ifndef GHOST_KERNELS_CPU_VEC_H_
#define GHOST_KERNELS_CPU_VEC_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ghost::kernels::internal {
namespace {

struct ScalarVec {
  using V = float;
  static constexpr std::size_t kWidth = 1;
  static V Load(const float* p) { return *p; }
  // kWidth bf16 values (raw bit patterns): the top half of an fp32, so a 16-bit shift widens
  // them exactly.
  static V LoadBf16(const std::uint16_t* p) {
    const std::uint32_t bits = std::uint32_t{*p} << 16;
    float out;
    std::memcpy(&out, &bits, sizeof(out));
    return out;
  }
  static void Store(float* p, V v) { *p = v; }
  static V Set(float x) { return x; }
  static V Add(V a, V b) { return a + b; }
  static V Sub(V a, V b) { return a - b; }
  static V Mul(V a, V b) { return a * b; }
  static V Div(V a, V b) { return a / b; }
  static V Max(V a, V b) { return a > b ? a : b; }
  static V Min(V a, V b) { return a < b ? a : b; }
  // a * b + c; rounded twice here (no FMA flag in the scalar build).
  static V Fma(V a, V b, V c) { return a * b + c; }
  static float ReduceAdd(V v) { return v; }
  static float ReduceMax(V v) { return v; }
  // out[j] = ReduceAdd(v[j]) for j < kWidth.
  static void ReduceAddMany(const V* v, float* out) { out[0] = v[0]; }
  static V Round(V v) { return __builtin_nearbyintf(v); }
  // 2^n for an integral n in [-126, 127].
  static V Pow2(V n) {
    const auto bits = static_cast<std::uint32_t>(static_cast<std::int32_t>(n) + 127) << 23;
    float out;
    std::memcpy(&out, &bits, sizeof(out));
    return out;
  }
};

// e^x to about 2 ulp for x in [-87.3, 88.3], clamped outside (so e^-inf is 1e-38, not 0:
// callers that mask must skip masked entries themselves). Range reduction x = n ln2 + r with
// |r| <= ln2/2 and ln2 split in two for exactness, then Cephes' degree-6 polynomial for e^r.
template <typename T>
typename T::V Exp(typename T::V x) {
  using V = typename T::V;
  x = T::Min(T::Max(x, T::Set(-87.3f)), T::Set(88.3f));
  const V n = T::Round(T::Mul(x, T::Set(1.44269504088896341f)));
  V r = T::Fma(n, T::Set(-0.693359375f), x);
  r = T::Fma(n, T::Set(2.12194440e-4f), r);
  V p = T::Set(1.9875691500e-4f);
  p = T::Fma(p, r, T::Set(1.3981999507e-3f));
  p = T::Fma(p, r, T::Set(8.3334519073e-3f));
  p = T::Fma(p, r, T::Set(4.1665795894e-2f));
  p = T::Fma(p, r, T::Set(1.6666665459e-1f));
  p = T::Fma(p, r, T::Set(5.0000001201e-1f));
  p = T::Fma(p, T::Mul(r, r), T::Add(r, T::Set(1.0f)));
  return T::Mul(p, T::Pow2(n));
}

}  // namespace
}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_VEC_H_
