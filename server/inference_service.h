// ghost.v1.Inference: Generate (server streaming), Tokenize, Detokenize.
#ifndef GHOST_SERVER_INFERENCE_SERVICE_H_
#define GHOST_SERVER_INFERENCE_SERVICE_H_

#include "ghost/v1/inference.grpc.pb.h"
#include "server/service_context.h"

namespace ghost::server {

class InferenceService final : public ghost::v1::Inference::CallbackService {
 public:
  explicit InferenceService(const ServiceContext& ctx) : ctx_(ctx) {}

  grpc::ServerWriteReactor<ghost::v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context, const ghost::v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* context,
                                     const ghost::v1::TokenizeRequest* request,
                                     ghost::v1::TokenizeResponse* response) override;
  grpc::ServerUnaryReactor* Detokenize(grpc::CallbackServerContext* context,
                                       const ghost::v1::DetokenizeRequest* request,
                                       ghost::v1::DetokenizeResponse* response) override;

 private:
  const ServiceContext& ctx_;
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_INFERENCE_SERVICE_H_
