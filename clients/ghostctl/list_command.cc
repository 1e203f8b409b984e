// ghostctl list: the models the server knows, one per line.
#include <cstdio>

#include "clients/ghostctl/commands.h"
#include "clients/ghostctl/connection.h"
#include "ghost/v1/models.grpc.pb.h"

namespace ghost::ctl {

int RunList() {
  auto stub = ghost::v1::Models::NewStub(OpenChannel());
  ghost::v1::ListModelsResponse response;
  auto context = NewContext(10);
  const grpc::Status status = stub->ListModels(context.get(), {}, &response);
  if (!status.ok()) return ReportError("list", status);
  std::printf("%-24s %-10s %-18s %12s %-6s %8s  %s\n", "NAME", "STATE", "ARCHITECTURE", "PARAMS",
              "DTYPE", "CONTEXT", "TOKENIZER");
  for (const ghost::v1::Model& model : response.models()) {
    std::printf("%-24s %-10s %-18s %12lld %-6s %8d  %s%s%s\n", model.name().c_str(),
                ghost::v1::ModelState_Name(model.state()).c_str(), model.architecture().c_str(),
                static_cast<long long>(model.parameters()), model.dtype().c_str(),
                model.context_length(), model.tokenizer().c_str(),
                model.reason().empty() ? "" : "  reason: ", model.reason().c_str());
  }
  return 0;
}

}  // namespace ghost::ctl
