#include "server/inference_service.h"

#include "absl/strings/str_cat.h"
#include "engine/common/utf8.h"
#include "engine/runtime/request_defaults.h"
#include "server/evaluate_reactor.h"
#include "server/generate_reactor.h"
#include "server/status.h"
#include "server/unary.h"

namespace ghost::server {

grpc::ServerWriteReactor<grpc::ByteBuffer>* InferenceService::Generate(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  return new GenerateReactor(ctx_, context, request);
}

grpc::ServerUnaryReactor* InferenceService::Tokenize(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* raw_request,
                                                     grpc::ByteBuffer* raw_response) {
  return RunRawUnary<ghost::v1::TokenizeRequest, ghost::v1::TokenizeResponse>(
      ctx_, context, Access::kUser, raw_request, raw_response,
      [&](const ghost::v1::TokenizeRequest& request,
          ghost::v1::TokenizeResponse& response) -> grpc::Status {
        auto model = ctx_.registry->GetReady(ctx_.ModelName(request.model()));
        if (!model.ok()) return ToGrpcStatus(model.status());
        if (absl::Status valid = ValidatePromptText(request.text(), ctx_.limits); !valid.ok()) {
          return ToGrpcStatus(valid);
        }
        // The engine's prompt tokenization, so that the ids are those Generate uses.
        for (const std::int32_t id :
             TokenizePromptText(request.text(), *(*model)->model, request.add_special_tokens())) {
          response.add_token_ids(id);
        }
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* InferenceService::Detokenize(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* raw_request,
                                                       grpc::ByteBuffer* raw_response) {
  return RunRawUnary<ghost::v1::DetokenizeRequest, ghost::v1::DetokenizeResponse>(
      ctx_, context, Access::kUser, raw_request, raw_response,
      [&](const ghost::v1::DetokenizeRequest& request,
          ghost::v1::DetokenizeResponse& response) -> grpc::Status {
        auto model = ctx_.registry->GetReady(ctx_.ModelName(request.model()));
        if (!model.ok()) return ToGrpcStatus(model.status());
        const std::vector<std::int32_t> ids(request.token_ids().begin(), request.token_ids().end());
        auto bytes = (*model)->model->tokenizer().Decode(ids, request.skip_special_tokens());
        if (!bytes.ok()) return ToGrpcStatus(bytes.status());
        // A proto string must be UTF-8; a byte-level model can produce any bytes.
        response.set_text(TakeValidUtf8(*bytes, /*flush=*/true));
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* InferenceService::Evaluate(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* raw_request,
                                                     grpc::ByteBuffer* raw_response) {
  return new EvaluateReactor(ctx_, evaluation_workers_, context, raw_request, raw_response);
}

}  // namespace ghost::server
