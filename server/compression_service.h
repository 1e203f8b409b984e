// ghost.v1.Compression and google.longrunning.Operations. Compression jobs are not part of
// this version: every RPC answers UNIMPLEMENTED (after authentication) so clients can probe.
#ifndef GHOST_SERVER_COMPRESSION_SERVICE_H_
#define GHOST_SERVER_COMPRESSION_SERVICE_H_

#include "ghost/v1/compression.grpc.pb.h"
#include "google/longrunning/operations.grpc.pb.h"
#include "server/service_context.h"

namespace ghost::server {

class CompressionService final : public ghost::v1::Compression::CallbackService {
 public:
  explicit CompressionService(const ServiceContext& ctx) : ctx_(ctx) {}
  grpc::ServerUnaryReactor* Compress(grpc::CallbackServerContext* context,
                                     const ghost::v1::CompressRequest* request,
                                     google::longrunning::Operation* response) override;

 private:
  const ServiceContext& ctx_;
};

class OperationsService final : public google::longrunning::Operations::CallbackService {
 public:
  explicit OperationsService(const ServiceContext& ctx) : ctx_(ctx) {}
  grpc::ServerUnaryReactor* ListOperations(
      grpc::CallbackServerContext* context,
      const google::longrunning::ListOperationsRequest* request,
      google::longrunning::ListOperationsResponse* response) override;
  grpc::ServerUnaryReactor* GetOperation(grpc::CallbackServerContext* context,
                                         const google::longrunning::GetOperationRequest* request,
                                         google::longrunning::Operation* response) override;
  grpc::ServerUnaryReactor* DeleteOperation(
      grpc::CallbackServerContext* context,
      const google::longrunning::DeleteOperationRequest* request,
      google::protobuf::Empty* response) override;
  grpc::ServerUnaryReactor* CancelOperation(
      grpc::CallbackServerContext* context,
      const google::longrunning::CancelOperationRequest* request,
      google::protobuf::Empty* response) override;
  grpc::ServerUnaryReactor* WaitOperation(grpc::CallbackServerContext* context,
                                          const google::longrunning::WaitOperationRequest* request,
                                          google::longrunning::Operation* response) override;

 private:
  const ServiceContext& ctx_;
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_COMPRESSION_SERVICE_H_
