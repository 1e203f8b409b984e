#include "engine/backend/backend.h"

#include "absl/strings/str_cat.h"
#include "engine/backend/cpu/cpu_backend.h"

namespace ghost {

const char* DeviceName(Device device) { return device == Device::kCuda ? "cuda" : "cpu"; }

absl::StatusOr<std::shared_ptr<Backend>> NewBackend(const BackendOptions& options) {
  switch (options.device) {
    case Device::kCpu:
      return std::make_shared<CpuBackend>();
    case Device::kCuda:
      break;
  }
  return absl::UnimplementedError(
      absl::StrCat("no ", DeviceName(options.device), " backend in this build; use cpu"));
}

}  // namespace ghost
