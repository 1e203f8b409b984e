// ghost.v1.Inference: Generate (server streaming), Tokenize, Detokenize, Evaluate (on threads of
// its own: evaluation_workers.h). Requests arrive as raw bytes and are parsed by the handlers
// (raw_message.h), so that a string field with invalid UTF-8 gets INVALID_ARGUMENT naming it.
#ifndef GHOST_SERVER_INFERENCE_SERVICE_H_
#define GHOST_SERVER_INFERENCE_SERVICE_H_

#include "ghost/v1/inference.grpc.pb.h"
#include "server/evaluation_workers.h"
#include "server/service_context.h"

namespace ghost::server {

using RawInferenceService = ghost::v1::Inference::WithRawCallbackMethod_Generate<
    ghost::v1::Inference::WithRawCallbackMethod_Tokenize<
        ghost::v1::Inference::WithRawCallbackMethod_Detokenize<
            ghost::v1::Inference::WithRawCallbackMethod_Evaluate<ghost::v1::Inference::Service>>>>;

// Evaluations run one at a time: each is a long run of full-batch forward calls, and a second
// one at once would take the cores from Generate's steps as well as from the first. Those that
// wait hold their text (up to --max_prompt_bytes each), so only a few may.
inline constexpr int kEvaluationThreads = 1;
inline constexpr int kMaxWaitingEvaluations = 8;

class InferenceService final : public RawInferenceService {
 public:
  explicit InferenceService(const ServiceContext& ctx)
      : ctx_(ctx), evaluation_workers_(kEvaluationThreads, kMaxWaitingEvaluations) {}

  grpc::ServerWriteReactor<grpc::ByteBuffer>* Generate(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* Tokenize(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Detokenize(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Evaluate(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;

 private:
  const ServiceContext& ctx_;
  EvaluationWorkers evaluation_workers_;
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_INFERENCE_SERVICE_H_
