#include "clients/ghostctl/connection.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "absl/flags/flag.h"
#include "proto/status_name.h"

ABSL_FLAG(std::string, address, "localhost:50051", "server address host:port");
ABSL_FLAG(std::string, token, "", "bearer token (default: env GHOST_AUTH_TOKEN)");
ABSL_FLAG(std::string, model, "", "model name (default: the server's default model)");

namespace ghost::ctl {
std::shared_ptr<grpc::Channel> OpenChannel() {
  return grpc::CreateChannel(absl::GetFlag(FLAGS_address), grpc::InsecureChannelCredentials());
}

std::unique_ptr<grpc::ClientContext> NewContext(double deadline_s) {
  auto context = std::make_unique<grpc::ClientContext>();
  std::string token = absl::GetFlag(FLAGS_token);
  if (token.empty()) {
    if (const char* env = std::getenv("GHOST_AUTH_TOKEN")) token = env;
  }
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  if (deadline_s > 0) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(static_cast<long>(deadline_s * 1000)));
  }
  return context;
}

int ReportError(const char* what, const grpc::Status& status) {
  std::fprintf(stderr, "ghostctl: %s: %s: %s\n", what, StatusCodeName(status.error_code()),
               status.error_message().c_str());
  return 1;
}

}  // namespace ghost::ctl
