// ghost.v1.Compression (start a compression job) and google.longrunning.Operations (follow,
// list, cancel, wait for and delete jobs), over the engine's CompressJobManager. Compress,
// CancelOperation and DeleteOperation are admin RPCs; the others need only the auth token.
#ifndef GHOST_SERVER_COMPRESSION_SERVICE_H_
#define GHOST_SERVER_COMPRESSION_SERVICE_H_

#include "engine/jobs/job_manager.h"
#include "ghost/v1/compression.grpc.pb.h"
#include "google/longrunning/operations.grpc.pb.h"
#include "server/service_context.h"

namespace ghost::server {

// Requests arrive as raw bytes and are parsed by the handlers (raw_message.h), so that a string
// field with invalid UTF-8 gets INVALID_ARGUMENT naming it, as in the other services.
using RawCompressionService =
    ghost::v1::Compression::WithRawCallbackMethod_Compress<ghost::v1::Compression::Service>;
using RawOperationsService = google::longrunning::Operations::WithRawCallbackMethod_ListOperations<
    google::longrunning::Operations::WithRawCallbackMethod_GetOperation<
        google::longrunning::Operations::WithRawCallbackMethod_DeleteOperation<
            google::longrunning::Operations::WithRawCallbackMethod_CancelOperation<
                google::longrunning::Operations::WithRawCallbackMethod_WaitOperation<
                    google::longrunning::Operations::Service>>>>>;

class CompressionService final : public RawCompressionService {
 public:
  CompressionService(const ServiceContext& ctx, jobs::CompressJobManager& jobs)
      : ctx_(ctx), jobs_(jobs) {}
  // Checks the request at once (NOT_FOUND, INVALID_ARGUMENT, ALREADY_EXISTS,
  // RESOURCE_EXHAUSTED) and answers with the queued operation.
  grpc::ServerUnaryReactor* Compress(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;

 private:
  const ServiceContext& ctx_;
  jobs::CompressJobManager& jobs_;
};

class OperationsService final : public RawOperationsService {
 public:
  OperationsService(const ServiceContext& ctx, jobs::CompressJobManager& jobs)
      : ctx_(ctx), jobs_(jobs) {}
  // Oldest first; page_size defaults to 50 (at most 500); the filter is ignored.
  grpc::ServerUnaryReactor* ListOperations(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetOperation(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  // FAILED_PRECONDITION unless the operation is done.
  grpc::ServerUnaryReactor* DeleteOperation(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override;
  // The job ends CANCELLED (code 1) without leaving a model; no effect once it is done.
  grpc::ServerUnaryReactor* CancelOperation(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override;
  // Answers when the operation is done or after the timeout (default 60 s, at most 10 min)
  // with its latest state; no thread waits meanwhile.
  grpc::ServerUnaryReactor* WaitOperation(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;

 private:
  const ServiceContext& ctx_;
  jobs::CompressJobManager& jobs_;
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_COMPRESSION_SERVICE_H_
