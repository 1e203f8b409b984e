#include "engine/backend/backend.h"

#include "absl/strings/str_cat.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/cuda/cuda_backend.h"

namespace ghost {

absl::StatusOr<std::shared_ptr<Backend>> NewBackend(const BackendOptions& options) {
  switch (options.device) {
    case Device::kCpu:
      return std::make_shared<CpuBackend>();
    case Device::kCuda:
      return NewCudaBackend(options.device_index);
  }
  return absl::UnimplementedError(
      absl::StrCat("no ", DeviceName(options.device), " backend in this build; use cpu"));
}

}  // namespace ghost
