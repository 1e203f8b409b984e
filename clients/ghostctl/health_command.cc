// ghostctl health: liveness ("") and readiness ("ghost.v1.Inference") of the server.
#include <cstdio>

#include "clients/ghostctl/commands.h"
#include "clients/ghostctl/connection.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace ghost::ctl {

int RunHealth() {
  auto stub = grpc::health::v1::Health::NewStub(OpenChannel());
  int exit_code = 0;
  for (const char* service : {"", "ghost.v1.Inference"}) {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    auto context = NewContext(5);
    const grpc::Status status = stub->Check(context.get(), request, &response);
    if (!status.ok()) return ReportError("health", status);
    const char* label = *service == '\0' ? "live " : "ready";
    std::printf(
        "%s (%s): %s\n", label, *service == '\0' ? "\"\"" : service,
        grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()).c_str());
    if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) exit_code = 1;
  }
  return exit_code;
}

}  // namespace ghost::ctl
