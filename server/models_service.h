// ghost.v1.Models: the model repository API. ImportModel, LoadModel, UnloadModel and DeleteModel
// are admin RPCs (they need the admin token when one is configured).
#ifndef GHOST_SERVER_MODELS_SERVICE_H_
#define GHOST_SERVER_MODELS_SERVICE_H_

#include "ghost/v1/models.grpc.pb.h"
#include "server/service_context.h"

namespace ghost::server {

class ModelsService final : public ghost::v1::Models::CallbackService {
 public:
  explicit ModelsService(const ServiceContext& ctx) : ctx_(ctx) {}

  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const ghost::v1::ListModelsRequest* request,
                                       ghost::v1::ListModelsResponse* response) override;
  grpc::ServerUnaryReactor* GetModel(grpc::CallbackServerContext* context,
                                     const ghost::v1::GetModelRequest* request,
                                     ghost::v1::Model* response) override;
  grpc::ServerUnaryReactor* ImportModel(grpc::CallbackServerContext* context,
                                        const ghost::v1::ImportModelRequest* request,
                                        ghost::v1::Model* response) override;
  grpc::ServerUnaryReactor* LoadModel(grpc::CallbackServerContext* context,
                                      const ghost::v1::LoadModelRequest* request,
                                      ghost::v1::Model* response) override;
  grpc::ServerUnaryReactor* UnloadModel(grpc::CallbackServerContext* context,
                                        const ghost::v1::UnloadModelRequest* request,
                                        ghost::v1::Model* response) override;
  grpc::ServerUnaryReactor* DeleteModel(grpc::CallbackServerContext* context,
                                        const ghost::v1::DeleteModelRequest* request,
                                        ghost::v1::DeleteModelResponse* response) override;

 private:
  const ServiceContext& ctx_;
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_MODELS_SERVICE_H_
