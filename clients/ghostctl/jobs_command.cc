// ghostctl jobs (list the compression operations) and ghostctl cancel OPERATION.
#include <cstdio>

#include "clients/ghostctl/commands.h"
#include "clients/ghostctl/connection.h"
#include "clients/ghostctl/operation_format.h"
#include "google/longrunning/operations.grpc.pb.h"

namespace ghost::ctl {

int RunJobs() {
  auto stub = google::longrunning::Operations::NewStub(OpenChannel());
  std::printf("%-28s %-10s %-11s %6s %9s  %s\n", "OPERATION", "STATE", "PHASE", "DONE", "ELAPSED",
              "MODEL / ERROR");
  google::longrunning::ListOperationsRequest request;
  request.set_name("operations");
  do {
    google::longrunning::ListOperationsResponse response;
    auto context = NewContext(10);
    const grpc::Status status = stub->ListOperations(context.get(), request, &response);
    if (!status.ok()) return ReportError("jobs", status);
    for (const google::longrunning::Operation& operation : response.operations()) {
      const ghost::v1::CompressMetadata metadata = MetadataOf(operation);
      std::string detail = operation.error().message();
      ghost::v1::CompressResponse result;
      if (operation.has_response() && operation.response().UnpackTo(&result)) {
        detail = result.model();
      }
      std::printf("%-28s %-10s %-11s %5.1f%% %8.1fs  %s\n", operation.name().c_str(),
                  OperationState(operation).c_str(), metadata.phase().c_str(), metadata.percent(),
                  metadata.elapsed_seconds(), detail.c_str());
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return 0;
}

int RunCancel(const std::string& operation) {
  auto stub = google::longrunning::Operations::NewStub(OpenChannel());
  google::longrunning::CancelOperationRequest request;
  request.set_name(OperationName(operation));
  google::protobuf::Empty empty;
  auto context = NewContext(10);
  const grpc::Status status = stub->CancelOperation(context.get(), request, &empty);
  if (!status.ok()) return ReportError("cancel", status);
  std::printf("%s: cancellation requested\n", request.name().c_str());
  return 0;
}

}  // namespace ghost::ctl
