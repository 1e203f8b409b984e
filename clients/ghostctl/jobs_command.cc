// ghostctl jobs (list the compression operations) and ghostctl cancel OPERATION.
#include <cstdio>

#include "absl/strings/str_format.h"
#include "clients/ghostctl/commands.h"
#include "clients/ghostctl/connection.h"
#include "clients/ghostctl/operation_format.h"
#include "clients/ghostctl/table.h"
#include "google/longrunning/operations.grpc.pb.h"

namespace ghost::ctl {

int RunJobs() {
  auto stub = google::longrunning::Operations::NewStub(OpenChannel());
  using Align = Table::Align;
  Table table({{"OPERATION"},
               {"STATE"},
               {"PHASE"},
               {"DONE", Align::kRight},
               {"ELAPSED", Align::kRight},
               {"MODEL"},
               {"ERROR"}});
  google::longrunning::ListOperationsRequest request;
  request.set_name("operations");
  do {
    google::longrunning::ListOperationsResponse response;
    auto context = NewContext(10);
    const grpc::Status status = stub->ListOperations(context.get(), request, &response);
    if (!status.ok()) return ReportError("jobs", status);
    for (const google::longrunning::Operation& operation : response.operations()) {
      const ghost::v1::CompressMetadata metadata = MetadataOf(operation);
      table.AddRow({operation.name(), OperationState(operation), metadata.phase(),
                    absl::StrFormat("%.1f%%", metadata.percent()),
                    absl::StrFormat("%.1fs", metadata.elapsed_seconds()),
                    metadata.model() + " -> " + metadata.output_model(),
                    operation.error().message()});
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  std::fputs(table.Render().c_str(), stdout);
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
