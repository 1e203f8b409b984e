// ghostctl load NAME: loads (or reloads) a model and waits until it is ready.
#include <cstdio>

#include "clients/ghostctl/commands.h"
#include "clients/ghostctl/connection.h"
#include "ghost/v1/models.grpc.pb.h"

namespace ghost::ctl {

int RunLoad(const std::string& name) {
  auto stub = ghost::v1::Models::NewStub(OpenChannel());
  ghost::v1::LoadModelRequest request;
  request.set_name(name);
  ghost::v1::Model model;
  auto context = NewContext(0);  // a large model may take minutes to load
  const grpc::Status status = stub->LoadModel(context.get(), request, &model);
  if (!status.ok()) return ReportError("load", status);
  std::printf("%s: %s\n", model.name().c_str(), ghost::v1::ModelState_Name(model.state()).c_str());
  return 0;
}

}  // namespace ghost::ctl
