// The AVX-512 low-bit kernels with VNNI's vpdpbusd (this file alone is compiled with
// -mavx512f -mavx512bw -mavx512vl -mavx512vnni -mfma -mf16c).
#include "kernels/cpu/quant_avx512_kernels.h"

namespace ghost::kernels::internal {

void MatMulQuantAvx512Vnni(const QuantWeights& w, const PackedActivations& x,
                           const std::uint32_t* rows, std::size_t first, std::size_t count,
                           float* y, std::size_t ldy) {
  MatMulQuantRows<true>(w, x, rows, first, count, y, ldy);
}

}  // namespace ghost::kernels::internal
