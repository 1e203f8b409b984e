// The element-wise kernels of elementwise_kernel.h compiled for Avx2 (-mavx2 -mfma).
#include "kernels/cpu/elementwise_internal.h"
#include "kernels/cpu/elementwise_kernel.h"
#include "kernels/cpu/vec_avx2.h"

namespace ghost::kernels::internal {

const ElementwiseKernels& ElementwiseAvx2() { return kElementwise<Avx2Vec>; }

}  // namespace ghost::kernels::internal
