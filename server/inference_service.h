// ghost.v1.Inference: Generate (server streaming), Tokenize, Detokenize. Requests arrive as raw
// bytes and are parsed by the handlers (raw_message.h), so that a string field with invalid
// UTF-8 gets INVALID_ARGUMENT naming it.
#ifndef GHOST_SERVER_INFERENCE_SERVICE_H_
#define GHOST_SERVER_INFERENCE_SERVICE_H_

#include "ghost/v1/inference.grpc.pb.h"
#include "server/service_context.h"

namespace ghost::server {

using RawInferenceService = ghost::v1::Inference::WithRawCallbackMethod_Generate<
    ghost::v1::Inference::WithRawCallbackMethod_Tokenize<
        ghost::v1::Inference::WithRawCallbackMethod_Detokenize<ghost::v1::Inference::Service>>>;

class InferenceService final : public RawInferenceService {
 public:
  explicit InferenceService(const ServiceContext& ctx) : ctx_(ctx) {}

  grpc::ServerWriteReactor<grpc::ByteBuffer>* Generate(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Detokenize(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;

 private:
  const ServiceContext& ctx_;
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_INFERENCE_SERVICE_H_
