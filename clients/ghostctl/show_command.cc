// ghostctl show NAME: everything the server knows about one model.
#include <cstdio>

#include "clients/ghostctl/commands.h"
#include "clients/ghostctl/connection.h"
#include "ghost/v1/models.grpc.pb.h"

namespace ghost::ctl {

int RunShow(const std::string& name) {
  auto stub = ghost::v1::Models::NewStub(OpenChannel());
  ghost::v1::GetModelRequest request;
  request.set_name(name);
  ghost::v1::Model model;
  auto context = NewContext(10);
  const grpc::Status status = stub->GetModel(context.get(), request, &model);
  if (!status.ok()) return ReportError("show", status);
  std::printf("name:           %s\n", model.name().c_str());
  std::printf("state:          %s\n", ghost::v1::ModelState_Name(model.state()).c_str());
  if (!model.reason().empty()) std::printf("reason:         %s\n", model.reason().c_str());
  std::printf("path:           %s\n", model.path().c_str());
  std::printf("architecture:   %s\n", model.architecture().c_str());
  std::printf("parameters:     %lld\n", static_cast<long long>(model.parameters()));
  std::printf("dtype:          %s\n", model.dtype().c_str());
  std::printf("weight bytes:   %lld\n", static_cast<long long>(model.weight_bytes()));
  std::printf("tokenizer:      %s\n", model.tokenizer().c_str());
  std::printf("context length: %d\n", model.context_length());
  std::printf("vocab size:     %d\n", model.vocab_size());
  return 0;
}

}  // namespace ghost::ctl
