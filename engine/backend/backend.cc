#include "engine/backend/backend.h"

#include "absl/strings/str_cat.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/cuda/cuda_backend.h"

namespace ghost {

absl::StatusOr<std::unique_ptr<LayerTransport>> Backend::NewLayerTransport(
    const LayerStreamSource& source) {
  LayerStreamPlan plan;
  for (const WeightUnit* unit : source.units) plan.layer_bytes.push_back(unit->bytes());
  plan.first_streamed = source.first_streamed;
  plan.cache_path = source.cache_path;
  plan.source_identity = source.source_identity;
  absl::StatusOr<std::unique_ptr<LayerTransportBuilder>> builder = NewLayerTransportBuilder(plan);
  if (!builder.ok()) return builder.status();
  for (std::size_t l = 0; l < source.units.size(); ++l) {
    if (absl::Status s = (*builder)->Add(l, *source.units[l]); !s.ok()) return s;
  }
  return (*builder)->Finish();
}

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
