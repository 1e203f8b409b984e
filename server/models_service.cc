#include "server/models_service.h"

#include "server/status.h"
#include "server/unary.h"

namespace ghost::server {
namespace {

ghost::v1::ModelState ToProtoState(ModelState state) {
  switch (state) {
    case ModelState::kImporting:
      return ghost::v1::IMPORTING;
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
  out.set_path(info.path);  // relative to its root; absolute paths stay on the server
  out.set_architecture(info.summary.architecture);
  out.set_parameters(info.summary.parameters);
  out.set_dtype(info.summary.dtype);
  out.set_weight_bytes(info.summary.weight_bytes);
  out.set_tokenizer(info.summary.tokenizer);
  out.set_context_length(info.summary.context_length);
  out.set_vocab_size(info.summary.vocab_size);
}

grpc::Status RequireName(const std::string& name) {
  if (!name.empty()) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the model name is required");
}

// An admin RPC whose outcome arrives later through a ModelCallback (a load or an unload):
// the registry finishes the call from its own thread, so no gRPC thread waits.
template <typename Start>
grpc::ServerUnaryReactor* RunAdminAsync(const ServiceContext& ctx,
                                        grpc::CallbackServerContext* context,
                                        const std::string& name, ghost::v1::Model* response,
                                        Start start) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status status = ctx.auth->CheckAdmin(*context);
  if (status.ok()) status = RequireName(name);
  if (!status.ok()) {
    reactor->Finish(status);
    return reactor;
  }
  // Readiness follows the default model: an unload makes it NOT_SERVING as soon as it
  // starts (the model stops taking requests), a load once it has succeeded.
  const std::function<void()>& refresh = ctx.refresh_readiness;
  start([reactor, response, refresh](absl::StatusOr<ModelInfo> outcome) {
    if (refresh) refresh();
    if (outcome.ok()) ToProto(*outcome, *response);
    reactor->Finish(ToGrpcStatus(outcome.status()));
  });
  if (refresh) refresh();
  return reactor;
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

grpc::ServerUnaryReactor* ModelsService::ImportModel(grpc::CallbackServerContext* context,
                                                     const ghost::v1::ImportModelRequest* request,
                                                     ghost::v1::Model* response) {
  // Runs on this thread: it only resolves the path and reads config.json (bounded in size).
  return RunAdminUnary(ctx_, context, [&] {
    if (grpc::Status status = RequireName(request->name()); !status.ok()) return status;
    if (request->path().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "the path is required (a directory under a model root)");
    }
    auto info = ctx_.registry->Import(request->name(), request->path(), ModelOrigin::kImported);
    if (!info.ok()) return ToGrpcStatus(info.status());
    ToProto(*info, *response);
    return grpc::Status::OK;
  });
}

grpc::ServerUnaryReactor* ModelsService::LoadModel(grpc::CallbackServerContext* context,
                                                   const ghost::v1::LoadModelRequest* request,
                                                   ghost::v1::Model* response) {
  // Answers once the model is READY (or the load failed); a reload swaps only on success.
  return RunAdminAsync(ctx_, context, request->name(), response, [&](ModelCallback done) {
    ctx_.registry->LoadAsync(request->name(), LoadMode::kReload, std::move(done));
  });
}

grpc::ServerUnaryReactor* ModelsService::UnloadModel(grpc::CallbackServerContext* context,
                                                     const ghost::v1::UnloadModelRequest* request,
                                                     ghost::v1::Model* response) {
  // Answers once in-flight streams have finished and the model's memory is freed.
  return RunAdminAsync(ctx_, context, request->name(), response, [&](ModelCallback done) {
    ctx_.registry->UnloadAsync(request->name(), std::move(done));
  });
}

grpc::ServerUnaryReactor* ModelsService::DeleteModel(grpc::CallbackServerContext* context,
                                                     const ghost::v1::DeleteModelRequest* request,
                                                     ghost::v1::DeleteModelResponse*) {
  return RunAdminUnary(ctx_, context, [&] {
    if (grpc::Status status = RequireName(request->name()); !status.ok()) return status;
    return ToGrpcStatus(ctx_.registry->Delete(request->name()));
  });
}

}  // namespace ghost::server
