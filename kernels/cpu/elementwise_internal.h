// Internal to kernels/cpu: the per-ISA element-wise kernel tables that elementwise.cc
// chooses between, each defined in elementwise_{scalar,avx2,avx512}.cc.
#ifndef GHOST_KERNELS_CPU_ELEMENTWISE_INTERNAL_H_
#define GHOST_KERNELS_CPU_ELEMENTWISE_INTERNAL_H_

#include "kernels/cpu/elementwise.h"

namespace ghost::kernels::internal {

const ElementwiseKernels& ElementwiseScalar();
const ElementwiseKernels& ElementwiseAvx2();
const ElementwiseKernels& ElementwiseAvx512();

}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_ELEMENTWISE_INTERNAL_H_
