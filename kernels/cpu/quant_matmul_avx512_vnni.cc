// The AVX-512 low-bit kernels with VNNI's vpdpbusd (this file alone is compiled with
// -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mfma -mf16c).
#include "kernels/cpu/quant_avx512_axpy.h"
#include "kernels/cpu/quant_avx512_kernels.h"

namespace ghost::kernels::internal {

void MatMulQuantAvx512Vnni(const QuantWeights& w, const PackedActivations& x,
                           const std::uint32_t* rows, std::size_t first, std::size_t count,
                           float* y, std::size_t ldy) {
  MatMulQuantRows<true>(w, x, rows, first, count, y, ldy);
}

void QuantAxpyAvx512Vnni(const QuantWeights& w, const std::uint32_t* rows, const float* coefs,
                         std::size_t count, float* out_perm) {
  QuantAxpyRows<true>(w, rows, coefs, count, out_perm);
}

}  // namespace ghost::kernels::internal
