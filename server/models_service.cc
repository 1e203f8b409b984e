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
  out.set_device(info.device);
  out.set_weight_budget_bytes(info.summary.weight_budget_bytes);
  out.set_resident_weight_bytes(info.summary.resident_weight_bytes);
  out.set_streamed_weight_bytes(info.summary.streamed_weight_bytes);
  out.set_streamed_layers(info.summary.streamed_layers);
}

grpc::Status RequireName(const std::string& name) {
  if (!name.empty()) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the model name is required");
}

// An admin RPC whose outcome arrives later through a ModelCallback (a load or an unload):
// the registry finishes the call from its own thread, so no gRPC thread waits. `start` gets the
// parsed request and the callback.
template <typename Request, typename Start>
grpc::ServerUnaryReactor* RunAdminAsync(const ServiceContext& ctx,
                                        grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* raw_request,
                                        grpc::ByteBuffer* raw_response, Start start) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Request request;
  grpc::Status status = ctx.auth->CheckAdmin(*context);
  if (status.ok()) status = ParseRequest(*raw_request, request);
  if (status.ok()) status = RequireName(request.name());
  if (!status.ok()) {
    reactor->Finish(status);
    return reactor;
  }
  // Readiness follows the default model: an unload makes it NOT_SERVING as soon as it
  // starts (the model stops taking requests), a load once it has succeeded.
  const std::function<void()>& refresh = ctx.refresh_readiness;
  start(request, [reactor, raw_response, refresh](absl::StatusOr<ModelInfo> outcome) {
    if (refresh) refresh();
    if (outcome.ok()) {
      ghost::v1::Model response;
      ToProto(*outcome, response);
      SerializeResponse(response, *raw_response);
    }
    reactor->Finish(ToGrpcStatus(outcome.status()));
  });
  if (refresh) refresh();
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* ModelsService::ListModels(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* request,
                                                    grpc::ByteBuffer* response) {
  return RunRawUnary<ghost::v1::ListModelsRequest, ghost::v1::ListModelsResponse>(
      ctx_, context, Access::kUser, request, response,
      [&](const ghost::v1::ListModelsRequest&, ghost::v1::ListModelsResponse& out) {
        ctx_.registry->DiscoverModels();  // directories dropped into a root since the last scan
        for (const ModelInfo& info : ctx_.registry->List()) ToProto(info, *out.add_models());
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* ModelsService::GetModel(grpc::CallbackServerContext* context,
                                                  const grpc::ByteBuffer* request,
                                                  grpc::ByteBuffer* response) {
  return RunRawUnary<ghost::v1::GetModelRequest, ghost::v1::Model>(
      ctx_, context, Access::kUser, request, response,
      [&](const ghost::v1::GetModelRequest& in, ghost::v1::Model& out) {
        auto info = ctx_.registry->Get(in.name());
        if (!info.ok()) return ToGrpcStatus(info.status());
        ToProto(*info, out);
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* ModelsService::ImportModel(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) {
  // Runs on this thread: it only resolves the path and reads config.json (bounded in size).
  return RunRawUnary<ghost::v1::ImportModelRequest, ghost::v1::Model>(
      ctx_, context, Access::kAdmin, request, response,
      [&](const ghost::v1::ImportModelRequest& in, ghost::v1::Model& out) {
        if (grpc::Status status = RequireName(in.name()); !status.ok()) return status;
        if (in.path().empty()) {
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              "the path is required (a directory under a model root)");
        }
        auto info = ctx_.registry->Import(in.name(), in.path(), ModelOrigin::kImported);
        if (!info.ok()) return ToGrpcStatus(info.status());
        ToProto(*info, out);
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* ModelsService::LoadModel(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request,
                                                   grpc::ByteBuffer* response) {
  // Answers once the model is READY (or the load failed); a reload swaps only on success.
  return RunAdminAsync<ghost::v1::LoadModelRequest>(
      ctx_, context, request, response,
      [&](const ghost::v1::LoadModelRequest& in, ModelCallback done) {
        LoadOptions options;
        if (in.has_weight_budget_bytes()) options.weight_budget_bytes = in.weight_budget_bytes();
        if (!in.device().empty()) {
          absl::StatusOr<DeviceSelection> device = ParseDeviceSelection(in.device());
          if (!device.ok()) {
            std::move(done)(device.status());
            return;
          }
          options.device = *device;
        }
        ctx_.registry->LoadAsync(in.name(), LoadMode::kReload, options, std::move(done));
      });
}

grpc::ServerUnaryReactor* ModelsService::UnloadModel(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) {
  // Answers once in-flight streams have finished and the model's memory is freed.
  return RunAdminAsync<ghost::v1::UnloadModelRequest>(
      ctx_, context, request, response,
      [&](const ghost::v1::UnloadModelRequest& in, ModelCallback done) {
        ctx_.registry->UnloadAsync(in.name(), std::move(done));
      });
}

grpc::ServerUnaryReactor* ModelsService::DeleteModel(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) {
  return RunRawUnary<ghost::v1::DeleteModelRequest, ghost::v1::DeleteModelResponse>(
      ctx_, context, Access::kAdmin, request, response,
      [&](const ghost::v1::DeleteModelRequest& in, ghost::v1::DeleteModelResponse&) {
        if (grpc::Status status = RequireName(in.name()); !status.ok()) return status;
        return ToGrpcStatus(ctx_.registry->Delete(in.name()));
      });
}

}  // namespace ghost::server
