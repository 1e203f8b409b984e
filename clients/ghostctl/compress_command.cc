// ghostctl compress: starts a compression job and, with --wait, follows it with a progress
// bar until it is done, then prints the quality report.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "clients/ghostctl/commands.h"
#include "clients/ghostctl/connection.h"
#include "clients/ghostctl/operation_format.h"
#include "ghost/v1/compression.grpc.pb.h"
#include "google/longrunning/operations.grpc.pb.h"

ABSL_FLAG(std::string, output, "", "compress: name of the new model");
ABSL_FLAG(std::string, scheme, "ternary",
          "compress: ternary, ternary-base3, ternary-2level or codebook4");
ABSL_FLAG(int, block_size, 64, "compress: weights per block (16, 32, 64, 128 or 256)");
ABSL_FLAG(bool, remove_dead_neurons, false, "compress: remove MLP neurons that never fire");
ABSL_FLAG(double, target_sparsity, 0, "compress: MLP gate target sparsity in [0, 1); 0: no gates");
ABSL_FLAG(std::string, output_format, "",
          "compress: safetensors (default) or gguf (the output also holds model.gguf)");
ABSL_FLAG(std::string, calibration_file, "",
          "compress: local text file to calibrate on (default: the model's validation sample)");
ABSL_FLAG(std::string, request_id, "", "compress: makes a retried submission the same job");
ABSL_FLAG(bool, wait, false, "compress: follow the job until it is done");

namespace ghost::ctl {
namespace {

// The whole file, or nullopt after printing why it could not be read (a directory included).
std::optional<std::string> ReadCalibrationFile(const std::string& path) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                             &std::fclose);
  std::string contents;
  if (file != nullptr) {
    char buffer[1 << 16];
    for (std::size_t got; (got = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0;) {
      contents.append(buffer, got);
    }
  }
  if (file == nullptr || std::ferror(file.get())) {
    std::fprintf(stderr, "ghostctl: cannot read --calibration_file '%s': %s\n", path.c_str(),
                 std::strerror(errno));
    return std::nullopt;
  }
  return contents;
}

// Follows the operation with WaitOperation calls of a second, redrawing the progress line.
int Follow(google::longrunning::Operation operation) {
  auto stub = google::longrunning::Operations::NewStub(OpenChannel());
  const bool redraw = isatty(STDERR_FILENO);
  std::string last_line;
  while (!operation.done()) {
    const std::string line = ProgressLine(MetadataOf(operation));
    if (line != last_line) std::fprintf(stderr, redraw ? "\r%s" : "%s\n", line.c_str());
    last_line = line;
    google::longrunning::WaitOperationRequest request;
    request.set_name(operation.name());
    request.mutable_timeout()->set_seconds(1);
    auto context = NewContext(30);
    const grpc::Status status = stub->WaitOperation(context.get(), request, &operation);
    if (!status.ok()) return ReportError("wait", status);
  }
  std::fprintf(stderr, redraw ? "\r%s\n" : "%s\n", ProgressLine(MetadataOf(operation)).c_str());
  if (!operation.has_response()) {
    std::fprintf(stderr, "ghostctl: %s %s: %s\n", operation.name().c_str(),
                 OperationState(operation).c_str(), operation.error().message().c_str());
    return 1;
  }
  ghost::v1::CompressResponse response;
  operation.response().UnpackTo(&response);
  PrintQualityReport(response);
  return 0;
}

}  // namespace

int RunCompress() {
  ghost::v1::CompressRequest request;
  request.set_model(absl::GetFlag(FLAGS_model));
  request.set_output_model(absl::GetFlag(FLAGS_output));
  request.set_scheme(absl::GetFlag(FLAGS_scheme));
  request.set_block_size(absl::GetFlag(FLAGS_block_size));
  request.set_remove_dead_neurons(absl::GetFlag(FLAGS_remove_dead_neurons));
  request.set_target_sparsity(static_cast<float>(absl::GetFlag(FLAGS_target_sparsity)));
  request.set_output_format(absl::GetFlag(FLAGS_output_format));
  request.set_request_id(absl::GetFlag(FLAGS_request_id));
  if (const std::string file = absl::GetFlag(FLAGS_calibration_file); !file.empty()) {
    std::optional<std::string> text = ReadCalibrationFile(file);
    if (!text.has_value()) return 1;
    request.set_calibration_text(*std::move(text));
  }
  auto stub = ghost::v1::Compression::NewStub(OpenChannel());
  google::longrunning::Operation operation;
  auto context = NewContext(60);
  const grpc::Status status = stub->Compress(context.get(), request, &operation);
  if (!status.ok()) return ReportError("compress", status);
  std::printf("%s\n", operation.name().c_str());
  std::fflush(stdout);
  return absl::GetFlag(FLAGS_wait) ? Follow(operation) : 0;
}

}  // namespace ghost::ctl
