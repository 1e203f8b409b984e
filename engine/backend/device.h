// The devices a model can run on. Each has a Backend (backend.h); NewBackend says which ones
// this build implements.
#ifndef GHOST_ENGINE_BACKEND_DEVICE_H_
#define GHOST_ENGINE_BACKEND_DEVICE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ghost {

enum class Device { kCpu, kCuda };

// "cpu" or "cuda".
const char* DeviceName(Device device);

// A device and, for CUDA, which one: what `--device cpu|cuda[:N]` names.
struct DeviceSelection {
  Device device = Device::kCpu;
  int index = 0;  // CUDA device ordinal; 0 for the CPU

  // "cpu", "cuda:0", ...
  std::string ToString() const;
  bool operator==(const DeviceSelection&) const = default;
};

// "cpu", "cuda" (device 0) or "cuda:N"; INVALID_ARGUMENT naming the accepted forms otherwise.
absl::StatusOr<DeviceSelection> ParseDeviceSelection(absl::string_view text);

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_DEVICE_H_
