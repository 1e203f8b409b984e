#include "server/compression_service.h"

#include "server/unary.h"

namespace ghost::server {

grpc::ServerUnaryReactor* CompressionService::Compress(grpc::CallbackServerContext* context,
                                                       const ghost::v1::CompressRequest*,
                                                       google::longrunning::Operation*) {
  return RunUnary(ctx_, context, [] { return NotYetImplemented("Compress"); });
}

grpc::ServerUnaryReactor* OperationsService::ListOperations(
    grpc::CallbackServerContext* context, const google::longrunning::ListOperationsRequest*,
    google::longrunning::ListOperationsResponse*) {
  return RunUnary(ctx_, context, [] { return NotYetImplemented("ListOperations"); });
}

grpc::ServerUnaryReactor* OperationsService::GetOperation(
    grpc::CallbackServerContext* context, const google::longrunning::GetOperationRequest*,
    google::longrunning::Operation*) {
  return RunUnary(ctx_, context, [] { return NotYetImplemented("GetOperation"); });
}

grpc::ServerUnaryReactor* OperationsService::DeleteOperation(
    grpc::CallbackServerContext* context, const google::longrunning::DeleteOperationRequest*,
    google::protobuf::Empty*) {
  return RunUnary(ctx_, context, [] { return NotYetImplemented("DeleteOperation"); });
}

grpc::ServerUnaryReactor* OperationsService::CancelOperation(
    grpc::CallbackServerContext* context, const google::longrunning::CancelOperationRequest*,
    google::protobuf::Empty*) {
  return RunUnary(ctx_, context, [] { return NotYetImplemented("CancelOperation"); });
}

grpc::ServerUnaryReactor* OperationsService::WaitOperation(
    grpc::CallbackServerContext* context, const google::longrunning::WaitOperationRequest*,
    google::longrunning::Operation*) {
  return RunUnary(ctx_, context, [] { return NotYetImplemented("WaitOperation"); });
}

}  // namespace ghost::server
