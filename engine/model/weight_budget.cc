#include "engine/model/weight_budget.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ghost {
namespace {

std::size_t RoundUp(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

}  // namespace

absl::Status ModelOptions::Validate() const {
  if (weight_budget_bytes < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("weight budget of ", weight_budget_bytes, " bytes; 0 or more expected"));
  }
  if (stream_slots < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer streaming needs at least 2 slots, not ", stream_slots));
  }
  return absl::OkStatus();
}

absl::StatusOr<WeightPlan> PlanWeights(std::size_t resident_unit_bytes,
                                       absl::Span<const std::size_t> layer_bytes,
                                       std::int64_t budget, int slots, std::size_t slot_alignment) {
  WeightPlan plan;
  std::size_t total = resident_unit_bytes;
  for (std::size_t bytes : layer_bytes) total += bytes;
  if (budget == 0 || total <= static_cast<std::size_t>(budget) || layer_bytes.empty()) {
    plan.resident_layers = layer_bytes.size();
    plan.resident_bytes = total;
    return plan;
  }
  const auto limit = static_cast<std::size_t>(budget);
  // The largest streamed layer of layers [r, n), for every r.
  std::vector<std::size_t> largest_from(layer_bytes.size() + 1, 0);
  for (std::size_t r = layer_bytes.size(); r-- > 0;) {
    largest_from[r] = std::max(largest_from[r + 1], layer_bytes[r]);
  }
  std::size_t resident = resident_unit_bytes;
  std::size_t best = layer_bytes.size();  // none found yet
  for (std::size_t r = 0; r < layer_bytes.size(); ++r) {
    const std::size_t slot_bytes = slots * RoundUp(largest_from[r], slot_alignment);
    if (resident + slot_bytes <= limit) best = r;
    resident += layer_bytes[r];
  }
  if (best == layer_bytes.size()) {
    const std::size_t slot_bytes = slots * RoundUp(largest_from[0], slot_alignment);
    return absl::ResourceExhaustedError(absl::StrFormat(
        "weight budget of %d bytes cannot hold the resident weights (embedding, final norm, "
        "head: %d bytes) plus %d streaming slots of %d bytes (the largest layer): %d bytes "
        "needed at least",
        budget, resident_unit_bytes, slots, slot_bytes / slots, resident_unit_bytes + slot_bytes));
  }
  plan.resident_layers = best;
  plan.resident_bytes = resident_unit_bytes;
  for (std::size_t r = 0; r < best; ++r) plan.resident_bytes += layer_bytes[r];
  plan.slot_bytes = slots * RoundUp(largest_from[best], slot_alignment);
  plan.streamed_bytes = total - plan.resident_bytes;
  return plan;
}

absl::StatusOr<std::unique_ptr<LayerStreamer>> StartStreaming(LlamaWeights& weights,
                                                              std::size_t first_streamed,
                                                              LayerTransportBuilder& builder,
                                                              int slots) {
  absl::StatusOr<std::unique_ptr<LayerTransport>> transport = builder.Finish();
  if (!transport.ok()) return transport.status();
  std::vector<WeightUnit*> units;
  for (std::size_t l = first_streamed; l < weights.layers.size(); ++l) {
    units.push_back(weights.layers[l].unit.get());
  }
  return LayerStreamer::Create(std::move(units), *std::move(transport), slots);
}

std::string LayerCachePath(const ModelOptions& options, const std::string& model_directory) {
  std::filesystem::path directory = options.layer_cache_dir;
  if (directory.empty()) {
    directory = std::filesystem::temp_directory_path() / "ghost-layer-cache";
  }
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(model_directory, error);
  const std::string key = error ? model_directory : absolute.lexically_normal().string();
  std::string name = std::filesystem::path(key).filename().string();
  if (name.empty()) name = "model";
  // The path's hash keeps two models of one name apart.
  return (directory / absl::StrFormat("%s-%016x.layers", name, std::hash<std::string>{}(key)))
      .string();
}

std::string SourceIdentity(const std::string& model_directory) {
  std::vector<std::string> entries;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(model_directory, error)) {
    if (!entry.is_regular_file(error)) continue;
    const std::uintmax_t size = entry.file_size(error);
    const auto modified = entry.last_write_time(error).time_since_epoch().count();
    entries.push_back(absl::StrCat(entry.path().filename().string(), ":", size, ":", modified));
  }
  std::sort(entries.begin(), entries.end());
  std::string identity;
  for (const std::string& entry : entries) absl::StrAppend(&identity, entry, ";");
  return identity;
}

}  // namespace ghost
