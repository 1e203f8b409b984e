// gRPC helpers for the compression tests: submit a job, follow it with WaitOperation, read the
// metadata and result out of the Operation.
#ifndef GHOST_TESTS_SERVER_COMPRESSION_CLIENT_H_
#define GHOST_TESTS_SERVER_COMPRESSION_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "ghost/v1/compression.grpc.pb.h"
#include "google/longrunning/operations.grpc.pb.h"

namespace ghost::testing {

class CompressionClient {
 public:
  explicit CompressionClient(const std::shared_ptr<grpc::Channel>& channel, std::string token = "")
      : compression_(ghost::v1::Compression::NewStub(channel)),
        operations_(google::longrunning::Operations::NewStub(channel)),
        token_(std::move(token)) {}

  grpc::Status Compress(const ghost::v1::CompressRequest& request,
                        google::longrunning::Operation* operation = nullptr);
  grpc::Status Get(const std::string& name, google::longrunning::Operation* operation);
  grpc::Status Cancel(const std::string& name);
  grpc::Status Delete(const std::string& name);
  grpc::Status List(int page_size, const std::string& page_token,
                    google::longrunning::ListOperationsResponse* response);
  // One WaitOperation call with the given timeout.
  grpc::Status WaitOnce(const std::string& name, int timeout_s,
                        google::longrunning::Operation* operation);
  // Calls WaitOperation until the operation is done (at most a few minutes).
  google::longrunning::Operation AwaitDone(const std::string& name);

 private:
  std::unique_ptr<ghost::v1::Compression::Stub> compression_;
  std::unique_ptr<google::longrunning::Operations::Stub> operations_;
  std::string token_;
};

ghost::v1::CompressRequest CompressRequestFor(const std::string& model, const std::string& output);
ghost::v1::CompressMetadata MetadataOf(const google::longrunning::Operation& operation);

}  // namespace ghost::testing

#endif  // GHOST_TESTS_SERVER_COMPRESSION_CLIENT_H_
