// libFuzzer target: the safetensors header parser (SafetensorsFile::FromBytes) on arbitrary
// bytes. Besides crashes, leaks and sanitizer reports it checks the parser's promises: errors
// name the file, and every view of an accepted file lies inside the input with exactly the
// bytes its dtype and shape need (each view is read in full, so ASan sees any stray byte).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "engine/checkpoint/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  absl::StatusOr<std::unique_ptr<ghost::SafetensorsFile>> file =
      ghost::SafetensorsFile::FromBytes(data, size, "fuzz/model.safetensors");
  if (!file.ok()) {
    if (file.status().message().find("fuzz/model.safetensors") == absl::string_view::npos) {
      std::abort();
    }
    return 0;
  }
  std::uint8_t checksum = 0;
  for (const std::string& name : (*file)->tensor_names()) {
    const ghost::TensorView* view = (*file)->Find(name);
    if (view == nullptr || view->data < data || view->data + view->nbytes > data + size) {
      std::abort();
    }
    if (static_cast<std::uint64_t>(view->num_elements()) * ghost::DtypeSize(view->dtype) !=
        view->nbytes) {
      std::abort();
    }
    for (std::size_t i = 0; i < view->nbytes; ++i) checksum ^= view->data[i];
  }
  // Keeps the reads from being optimized away.
  volatile std::uint8_t sink = checksum;
  (void)sink;
  return 0;
}
