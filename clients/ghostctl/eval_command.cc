// ghostctl eval: bits per byte of the model the server serves on a text file (Inference/Evaluate),
// so that a user measures the very model a deployment answers with. A local model directory is
// measured without a server by `ghostbench eval`.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "clients/ghostctl/commands.h"
#include "clients/ghostctl/connection.h"
#include "ghost/v1/inference.grpc.pb.h"

ABSL_FLAG(std::string, file, "", "eval: the text file to measure (any encoding)");
ABSL_FLAG(int, window, 0,
          "eval: bytes per window, each evaluated from an empty context (0: 1024, or the "
          "model's context when smaller)");

namespace ghost::ctl {
namespace {

// The file's bytes; false with a message on stderr when it cannot be read.
bool ReadTextFile(const std::string& path, std::string& contents) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "ghostctl: eval: --file: cannot open %s: %s\n", path.c_str(),
                 std::strerror(errno));
    return false;
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) {
    std::fprintf(stderr, "ghostctl: eval: --file: cannot read %s\n", path.c_str());
    return false;
  }
  contents = bytes.str();
  return true;
}

}  // namespace

int RunEval() {
  const std::string path = absl::GetFlag(FLAGS_file);
  if (path.empty()) {
    std::fprintf(stderr, "ghostctl: eval: --file PATH is required\n");
    return 2;
  }
  ghost::v1::EvaluateRequest request;
  request.set_model(absl::GetFlag(FLAGS_model));
  request.set_window(absl::GetFlag(FLAGS_window));
  if (!ReadTextFile(path, *request.mutable_text())) return 2;
  const std::size_t file_bytes = request.text().size();

  auto stub = ghost::v1::Inference::NewStub(OpenChannel());
  ghost::v1::EvaluateResponse response;
  auto context = NewContext(absl::GetFlag(FLAGS_timeout_s));
  const grpc::Status status = stub->Evaluate(context.get(), request, &response);
  if (!status.ok()) {
    ReportError("eval", status);
    // A file over the server's message limit never reaches the check that would name the flag.
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
        absl::StrContains(status.error_message(), "larger than max")) {
      std::fprintf(stderr,
                   "ghostctl: eval: %s is %zu bytes, more than the server accepts "
                   "(ghostserve --max_prompt_bytes raises the bound)\n",
                   path.c_str(), file_bytes);
    } else if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
               absl::StrContains(absl::AsciiStrToLower(status.error_message()),
                                 "failed to connect")) {
      std::fprintf(stderr, "ghostctl: eval: is ghostserve running at %s? (--address)\n",
                   absl::GetFlag(FLAGS_address).c_str());
    }
    return 1;
  }
  std::printf("bits per byte:   %.6f\n", response.bits_per_byte());
  std::printf("bytes predicted: %lld of %zu\n", static_cast<long long>(response.bytes_predicted()),
              file_bytes);
  std::printf("window:          %d\n", response.window());
  std::printf("model:           %s\n", response.model().c_str());
  if (response.mlp_activation_sparsity() > 0) {
    std::printf("gate sparsity:   %.4f\n", response.mlp_activation_sparsity());
  }
  return 0;
}

}  // namespace ghost::ctl
