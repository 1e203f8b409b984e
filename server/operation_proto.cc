#include "server/operation_proto.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ghost::server {

void ToOperation(const jobs::CompressJob& job, absl::Time now,
                 google::longrunning::Operation& out) {
  out.set_name(kOperationPrefix + job.id);
  ghost::v1::CompressMetadata metadata;
  metadata.set_phase(job.progress.phase);
  metadata.set_layer(job.progress.layer);
  metadata.set_num_layers(job.progress.num_layers);
  metadata.set_percent(job.progress.percent);
  metadata.set_elapsed_seconds(job.ElapsedSeconds(now));
  metadata.set_model(job.request.model);
  metadata.set_output_model(job.request.output_model);
  out.mutable_metadata()->PackFrom(metadata);
  out.set_done(jobs::IsDone(job.state));
  if (job.state == jobs::JobState::kSucceeded) {
    ghost::v1::CompressResponse response;
    const compress::CompressReport& report = job.report;
    response.set_model(job.request.output_model);
    response.set_bits_per_weight(report.bits_per_weight);
    response.set_compression_ratio(report.compression_ratio);
    response.set_bits_per_byte_before(report.bits_per_byte_before);
    response.set_bits_per_byte_after(report.bits_per_byte_after);
    for (const compress::TensorQuality& tensor : report.tensors) {
      ghost::v1::LayerQuality* layer = response.add_layers();
      layer->set_tensor(tensor.tensor);
      layer->set_cosine(tensor.cosine);
      layer->set_mse(tensor.mse);
    }
    out.mutable_response()->PackFrom(response);
  } else if (out.done()) {
    // absl::StatusCode follows google.rpc.Code, so the number carries over unchanged.
    out.mutable_error()->set_code(static_cast<int>(job.error.code()));
    out.mutable_error()->set_message(std::string(job.error.message()));
  }
}

jobs::CompressJobRequest FromProto(const ghost::v1::CompressRequest& request) {
  jobs::CompressJobRequest out;
  out.request_id = request.request_id();
  out.model = request.model();
  out.output_model = request.output_model();
  out.scheme = request.scheme();
  out.block_size = request.block_size();
  out.remove_dead_neurons = request.remove_dead_neurons();
  out.target_sparsity = request.target_sparsity();
  out.output_format = request.output_format();
  out.calibration_text = request.calibration_text();
  return out;
}

absl::StatusOr<std::string> JobIdOf(const std::string& operation_name) {
  if (!absl::StartsWith(operation_name, kOperationPrefix) ||
      operation_name.size() == sizeof(kOperationPrefix) - 1) {
    return absl::NotFoundError(absl::StrCat("operation \"", operation_name,
                                            "\" does not exist (names look like operations/ID)"));
  }
  return operation_name.substr(sizeof(kOperationPrefix) - 1);
}

}  // namespace ghost::server
