#include "engine/backend/device.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ghost {

const char* DeviceName(Device device) { return device == Device::kCuda ? "cuda" : "cpu"; }

std::string DeviceSelection::ToString() const {
  if (device == Device::kCpu) return "cpu";
  return absl::StrCat(DeviceName(device), ":", index);
}

absl::StatusOr<DeviceSelection> ParseDeviceSelection(absl::string_view text) {
  if (text == "cpu") return DeviceSelection{Device::kCpu, 0};
  if (text == "cuda") return DeviceSelection{Device::kCuda, 0};
  int index = -1;
  if (absl::StartsWith(text, "cuda:") && absl::SimpleAtoi(text.substr(5), &index) && index >= 0) {
    return DeviceSelection{Device::kCuda, index};
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown device \"", text, "\": expected cpu, cuda or cuda:N"));
}

}  // namespace ghost
