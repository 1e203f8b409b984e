// The AVX-512 low-bit kernels with VNNI's vpdpbusd and VBMI's byte permutes, which decode
// base-3 bytes through a table (this file alone is compiled with -mavx512f -mavx512bw
// -mavx512vl -mavx512vnni -mavx512vbmi -mfma -mf16c). Ice Lake and Zen 4 on have both;
// Cascade Lake has VNNI alone and takes quant_matmul_avx512_vnni.cc.
#include "kernels/cpu/quant_avx512_kernels.h"

namespace ghost::kernels::internal {

void MatMulQuantAvx512Vbmi(const QuantWeights& w, const PackedActivations& x,
                           const std::uint32_t* rows, std::size_t first, std::size_t count,
                           float* y, std::size_t ldy) {
  MatMulQuantRows<true>(w, x, rows, first, count, y, ldy);
}

}  // namespace ghost::kernels::internal
