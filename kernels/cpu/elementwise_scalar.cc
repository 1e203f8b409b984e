// The element-wise kernels of elementwise_kernel.h compiled for Scalar (no ISA flags).
#include "kernels/cpu/elementwise_internal.h"
#include "kernels/cpu/elementwise_kernel.h"
#include "kernels/cpu/vec.h"

namespace ghost::kernels::internal {

const ElementwiseKernels& ElementwiseScalar() { return kElementwise<ScalarVec>; }

}  // namespace ghost::kernels::internal
