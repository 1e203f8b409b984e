#include "clients/ghostctl/operation_format.h"

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"

namespace ghost::ctl {

std::string OperationState(const google::longrunning::Operation& operation) {
  if (!operation.done()) return MetadataOf(operation).phase() == "queued" ? "queued" : "running";
  if (operation.has_response()) return "succeeded";
  return operation.error().code() == 1 ? "cancelled" : "failed";  // 1: google.rpc CANCELLED
}

ghost::v1::CompressMetadata MetadataOf(const google::longrunning::Operation& operation) {
  ghost::v1::CompressMetadata metadata;
  operation.metadata().UnpackTo(&metadata);
  return metadata;
}

std::string ProgressLine(const ghost::v1::CompressMetadata& metadata) {
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(metadata.percent() / 100 * kWidth + 0.5f);
  std::string bar(std::max(0, std::min(kWidth, filled)), '#');
  bar.resize(kWidth, '.');
  std::string line =
      absl::StrFormat("[%s] %5.1f%%  %-10s", bar, metadata.percent(), metadata.phase());
  if (metadata.num_layers() > 0) {
    absl::StrAppendFormat(&line, "  layer %d/%d", metadata.layer(), metadata.num_layers());
  }
  absl::StrAppendFormat(&line, "  %.1f s", metadata.elapsed_seconds());
  return line;
}

void PrintQualityReport(const ghost::v1::CompressResponse& response) {
  std::printf("model %s: %.3f bits/weight, %.2fx smaller weights\n", response.model().c_str(),
              response.bits_per_weight(), response.compression_ratio());
  std::printf("bits per byte: %.4f before, %.4f after (%+.2f%%)\n", response.bits_per_byte_before(),
              response.bits_per_byte_after(),
              response.bits_per_byte_before() > 0
                  ? 100 * (response.bits_per_byte_after() / response.bits_per_byte_before() - 1)
                  : 0.0);
  std::printf("\n%-48s %8s %12s\n", "TENSOR", "COSINE", "MSE");
  for (const ghost::v1::LayerQuality& layer : response.layers()) {
    std::printf("%-48s %8.4f %12.4e\n", layer.tensor().c_str(), layer.cosine(), layer.mse());
  }
}

std::string OperationName(const std::string& id_or_name) {
  return absl::StartsWith(id_or_name, "operations/") ? id_or_name : "operations/" + id_or_name;
}

}  // namespace ghost::ctl
