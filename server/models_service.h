// ghost.v1.Models: the model repository API. ImportModel, LoadModel, UnloadModel and DeleteModel
// are admin RPCs (Authenticator::CheckAdmin). Requests arrive as raw bytes and are parsed by the
// handlers (raw_message.h), so that a string field with invalid UTF-8 gets INVALID_ARGUMENT.
#ifndef GHOST_SERVER_MODELS_SERVICE_H_
#define GHOST_SERVER_MODELS_SERVICE_H_

#include "ghost/v1/models.grpc.pb.h"
#include "server/service_context.h"

namespace ghost::server {

using RawModelsService = ghost::v1::Models::WithRawCallbackMethod_ListModels<
    ghost::v1::Models::WithRawCallbackMethod_GetModel<
        ghost::v1::Models::WithRawCallbackMethod_ImportModel<
            ghost::v1::Models::WithRawCallbackMethod_LoadModel<
                ghost::v1::Models::WithRawCallbackMethod_UnloadModel<
                    ghost::v1::Models::WithRawCallbackMethod_DeleteModel<
                        ghost::v1::Models::Service>>>>>>;

class ModelsService final : public RawModelsService {
 public:
  explicit ModelsService(const ServiceContext& ctx) : ctx_(ctx) {}

  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetModel(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ImportModel(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* LoadModel(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* UnloadModel(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DeleteModel(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;

 private:
  const ServiceContext& ctx_;
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_MODELS_SERVICE_H_
