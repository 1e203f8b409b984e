#include "server/models_service.h"

#include "server/status.h"
#include "server/unary.h"

namespace ghost::server {
namespace {

ghost::v1::ModelState ToProtoState(ModelState state) {
  switch (state) {
    case ModelState::kAvailable:
      return ghost::v1::AVAILABLE;
    case ModelState::kLoading:
      return ghost::v1::LOADING;
    case ModelState::kReady:
      return ghost::v1::READY;
    case ModelState::kUnloading:
      return ghost::v1::UNLOADING;
    case ModelState::kFailed:
      return ghost::v1::FAILED;
  }
  return ghost::v1::MODEL_STATE_UNSPECIFIED;
}

void ToProto(const ModelInfo& info, ghost::v1::Model& out) {
  out.set_name(info.name);
  out.set_state(ToProtoState(info.state));
  out.set_reason(info.reason);
  out.set_path(info.name);  // relative to its root; absolute paths stay private
  out.set_architecture(info.summary.architecture);
  out.set_parameters(info.summary.parameters);
  out.set_dtype(info.summary.dtype);
  out.set_weight_bytes(info.summary.weight_bytes);
  out.set_tokenizer(info.summary.tokenizer);
  out.set_context_length(info.summary.context_length);
  out.set_vocab_size(info.summary.vocab_size);
}

}  // namespace

grpc::ServerUnaryReactor* ModelsService::ListModels(grpc::CallbackServerContext* context,
                                                    const ghost::v1::ListModelsRequest*,
                                                    ghost::v1::ListModelsResponse* response) {
  return RunUnary(ctx_, context, [&] {
    for (const ModelInfo& info : ctx_.registry->List()) ToProto(info, *response->add_models());
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* ModelsService::GetModel(grpc::CallbackServerContext* context,
                                                  const ghost::v1::GetModelRequest* request,
                                                  ghost::v1::Model* response) {
  return RunUnary(ctx_, context, [&] {
    auto info = ctx_.registry->Get(request->name());
    if (!info.ok()) return ToGrpcStatus(info.status());
    ToProto(*info, *response);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* ModelsService::LoadModel(grpc::CallbackServerContext* context,
                                                   const ghost::v1::LoadModelRequest* request,
                                                   ghost::v1::Model* response) {
  // Loading reads the weights on this callback thread; fine for small models, and the
  // serving-core work moves it to a loader thread with a LOADING state.
  return RunUnary(ctx_, context, [&] {
    auto loaded = ctx_.registry->Load(request->name());
    if (!loaded.ok()) return ToGrpcStatus(loaded.status());
    auto info = ctx_.registry->Get(request->name());
    if (!info.ok()) return ToGrpcStatus(info.status());
    ToProto(*info, *response);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* ModelsService::ImportModel(grpc::CallbackServerContext* context,
                                                     const ghost::v1::ImportModelRequest*,
                                                     ghost::v1::Model*) {
  return RunUnary(ctx_, context, [] { return NotYetImplemented("ImportModel"); });
}

grpc::ServerUnaryReactor* ModelsService::UnloadModel(grpc::CallbackServerContext* context,
                                                     const ghost::v1::UnloadModelRequest*,
                                                     ghost::v1::Model*) {
  return RunUnary(ctx_, context, [] { return NotYetImplemented("UnloadModel"); });
}

grpc::ServerUnaryReactor* ModelsService::DeleteModel(grpc::CallbackServerContext* context,
                                                     const ghost::v1::DeleteModelRequest*,
                                                     ghost::v1::DeleteModelResponse*) {
  return RunUnary(ctx_, context, [] { return NotYetImplemented("DeleteModel"); });
}

}  // namespace ghost::server
