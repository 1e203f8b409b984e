#include "tests/server/compression_client.h"

#include "gtest/gtest.h"
#include "tests/server/test_util.h"

namespace ghost::testing {

grpc::Status CompressionClient::Compress(const ghost::v1::CompressRequest& request,
                                         google::longrunning::Operation* operation) {
  google::longrunning::Operation ignored;
  return compression_->Compress(ContextWithToken(token_).get(), request,
                                operation ? operation : &ignored);
}

grpc::Status CompressionClient::Get(const std::string& name,
                                    google::longrunning::Operation* operation) {
  google::longrunning::GetOperationRequest request;
  request.set_name(name);
  return operations_->GetOperation(ContextWithToken(token_).get(), request, operation);
}

grpc::Status CompressionClient::Cancel(const std::string& name) {
  google::longrunning::CancelOperationRequest request;
  request.set_name(name);
  google::protobuf::Empty empty;
  return operations_->CancelOperation(ContextWithToken(token_).get(), request, &empty);
}

grpc::Status CompressionClient::Delete(const std::string& name) {
  google::longrunning::DeleteOperationRequest request;
  request.set_name(name);
  google::protobuf::Empty empty;
  return operations_->DeleteOperation(ContextWithToken(token_).get(), request, &empty);
}

grpc::Status CompressionClient::List(int page_size, const std::string& page_token,
                                     google::longrunning::ListOperationsResponse* response) {
  google::longrunning::ListOperationsRequest request;
  request.set_name("operations");
  request.set_page_size(page_size);
  request.set_page_token(page_token);
  return operations_->ListOperations(ContextWithToken(token_).get(), request, response);
}

grpc::Status CompressionClient::WaitOnce(const std::string& name, int timeout_s,
                                         google::longrunning::Operation* operation) {
  google::longrunning::WaitOperationRequest request;
  request.set_name(name);
  request.mutable_timeout()->set_seconds(timeout_s);
  return operations_->WaitOperation(ContextWithToken(token_).get(), request, operation);
}

google::longrunning::Operation CompressionClient::AwaitDone(const std::string& name) {
  google::longrunning::Operation operation;
  for (int i = 0; i < 30 && !operation.done(); ++i) {
    const grpc::Status status = WaitOnce(name, 10, &operation);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) break;
  }
  EXPECT_TRUE(operation.done()) << name;
  return operation;
}

ghost::v1::CompressRequest CompressRequestFor(const std::string& model, const std::string& output) {
  ghost::v1::CompressRequest request;
  request.set_model(model);
  request.set_output_model(output);
  request.set_scheme("ternary");
  request.set_block_size(64);
  return request;
}

ghost::v1::CompressMetadata MetadataOf(const google::longrunning::Operation& operation) {
  ghost::v1::CompressMetadata metadata;
  EXPECT_TRUE(operation.metadata().UnpackTo(&metadata));
  return metadata;
}

}  // namespace ghost::testing
