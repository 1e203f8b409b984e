// The element-wise kernels of elementwise_kernel.h compiled for Avx512 (-mavx512f -mfma).
#include "kernels/cpu/elementwise_internal.h"
#include "kernels/cpu/elementwise_kernel.h"
#include "kernels/cpu/vec_avx512.h"

namespace ghost::kernels::internal {

const ElementwiseKernels& ElementwiseAvx512() { return kElementwise<Avx512Vec>; }

}  // namespace ghost::kernels::internal
