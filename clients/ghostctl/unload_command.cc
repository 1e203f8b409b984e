// ghostctl unload NAME: unloads a model; returns once its in-flight streams have finished and
// its memory is freed.
#include <cstdio>

#include "clients/ghostctl/commands.h"
#include "clients/ghostctl/connection.h"
#include "ghost/v1/models.grpc.pb.h"

namespace ghost::ctl {

int RunUnload(const std::string& name) {
  auto stub = ghost::v1::Models::NewStub(OpenChannel());
  ghost::v1::UnloadModelRequest request;
  request.set_name(name);
  ghost::v1::Model model;
  auto context = NewContext(0);  // waits for the model's streams to finish
  const grpc::Status status = stub->UnloadModel(context.get(), request, &model);
  if (!status.ok()) return ReportError("unload", status);
  std::printf("%s: %s\n", model.name().c_str(), ghost::v1::ModelState_Name(model.state()).c_str());
  return 0;
}

}  // namespace ghost::ctl
