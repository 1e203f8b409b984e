#include "server/compression_service.h"

#include <algorithm>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/operation_proto.h"
#include "server/status.h"
#include "server/unary.h"

namespace ghost::server {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;
constexpr absl::Duration kDefaultWait = absl::Seconds(60);
constexpr absl::Duration kMaxWait = absl::Minutes(10);

// WaitOperation: registers with the job manager, which calls back when the job is done or the
// timeout passes. The call may also end by client cancellation, so whichever comes first
// finishes it; the state shared with the manager's callback outlives the reactor.
class WaitOperationReactor final : public grpc::ServerUnaryReactor {
 public:
  WaitOperationReactor(jobs::CompressJobManager& jobs, grpc::ByteBuffer* response)
      : jobs_(jobs), shared_(std::make_shared<Shared>()) {
    shared_->reactor = this;
    shared_->response = response;
  }

  // Nothing of `this` is touched after WaitAsync: the call may already be over by then.
  void Start(const std::string& id, absl::Duration timeout) {
    std::shared_ptr<Shared> shared = shared_;
    absl::StatusOr<uint64_t> handle = jobs_.WaitAsync(
        id, absl::Now() + timeout,
        [shared](jobs::CompressJob job) { Complete(*shared, &job, grpc::Status::OK); });
    if (!handle.ok()) return Complete(*shared, nullptr, ToGrpcStatus(handle.status()));
    absl::MutexLock lock(&shared->mu);
    shared->handle = *handle;
  }

  // Ends the call before it waits (bad request, authentication).
  void Reject(const grpc::Status& status) { Complete(*shared_, nullptr, status); }

  void OnCancel() override {
    Complete(*shared_, nullptr, grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled"));
  }

  void OnDone() override {
    uint64_t handle = 0;
    {
      absl::MutexLock lock(&shared_->mu);
      handle = shared_->handle;
    }
    if (handle != 0) jobs_.CancelWait(handle);
    delete this;
  }

 private:
  struct Shared {
    absl::Mutex mu;
    bool finished ABSL_GUARDED_BY(mu) = false;
    uint64_t handle ABSL_GUARDED_BY(mu) = 0;
    WaitOperationReactor* reactor = nullptr;  // not used once finished
    grpc::ByteBuffer* response = nullptr;
  };

  // Finishes the call once; `job` (when set) fills the response. Finish is called without the
  // lock, since OnDone (which takes it) may run before Finish returns.
  static void Complete(Shared& shared, const jobs::CompressJob* job, const grpc::Status& status) {
    {
      absl::MutexLock lock(&shared.mu);
      if (shared.finished) return;
      shared.finished = true;
      if (job != nullptr) {
        google::longrunning::Operation operation;
        ToOperation(*job, absl::Now(), operation);
        SerializeResponse(operation, *shared.response);
      }
    }
    shared.reactor->Finish(status);
  }

  jobs::CompressJobManager& jobs_;
  std::shared_ptr<Shared> shared_;
};

absl::StatusOr<absl::Duration> WaitTimeout(
    const google::longrunning::WaitOperationRequest& request) {
  if (!request.has_timeout()) return kDefaultWait;
  const absl::Duration timeout =
      absl::Seconds(request.timeout().seconds()) + absl::Nanoseconds(request.timeout().nanos());
  if (timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout must not be negative");
  }
  return std::min(timeout, kMaxWait);
}

}  // namespace

grpc::ServerUnaryReactor* CompressionService::Compress(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* request,
                                                       grpc::ByteBuffer* response) {
  // Runs on this thread: it validates and reads at most the source's bundled sample.
  return RunRawUnary<ghost::v1::CompressRequest, google::longrunning::Operation>(
      ctx_, context, Access::kAdmin, request, response,
      [&](const ghost::v1::CompressRequest& in, google::longrunning::Operation& out) {
        absl::StatusOr<jobs::CompressJob> job = jobs_.Submit(FromProto(in));
        if (!job.ok()) return ToGrpcStatus(job.status());
        ToOperation(*job, absl::Now(), out);
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* OperationsService::ListOperations(grpc::CallbackServerContext* context,
                                                            const grpc::ByteBuffer* raw_request,
                                                            grpc::ByteBuffer* raw_response) {
  using google::longrunning::ListOperationsRequest;
  using google::longrunning::ListOperationsResponse;
  return RunRawUnary<ListOperationsRequest, ListOperationsResponse>(
      ctx_, context, Access::kUser, raw_request, raw_response,
      [&](const ListOperationsRequest& in, ListOperationsResponse& out) {
        const ListOperationsRequest* request = &in;
        ListOperationsResponse* response = &out;
        if (request->page_size() < 0) {
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_size must not be negative");
        }
        const int page_size = request->page_size() == 0
                                  ? kDefaultPageSize
                                  : std::min(request->page_size(), kMaxPageSize);
        // The token is the sequence number of the last job of the previous page.
        int64_t after = 0;
        if (!request->page_token().empty() && !absl::SimpleAtoi(request->page_token(), &after)) {
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              "page_token is not one this server handed out");
        }
        const absl::Time now = absl::Now();
        const std::vector<jobs::CompressJob> all = jobs_.List();
        for (const jobs::CompressJob& job : all) {
          if (job.sequence <= after) continue;
          if (response->operations_size() == page_size) {
            // More remain: the next page starts after the last job of this one.
            response->set_next_page_token(absl::StrCat(after));
            break;
          }
          ToOperation(job, now, *response->add_operations());
          after = job.sequence;
        }
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* OperationsService::GetOperation(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* request,
                                                          grpc::ByteBuffer* response) {
  return RunRawUnary<google::longrunning::GetOperationRequest, google::longrunning::Operation>(
      ctx_, context, Access::kUser, request, response,
      [&](const google::longrunning::GetOperationRequest& in, google::longrunning::Operation& out) {
        absl::StatusOr<std::string> id = JobIdOf(in.name());
        if (!id.ok()) return ToGrpcStatus(id.status());
        absl::StatusOr<jobs::CompressJob> job = jobs_.Get(*id);
        if (!job.ok()) return ToGrpcStatus(job.status());
        ToOperation(*job, absl::Now(), out);
        return grpc::Status::OK;
      });
}

grpc::ServerUnaryReactor* OperationsService::DeleteOperation(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return RunRawUnary<google::longrunning::DeleteOperationRequest, google::protobuf::Empty>(
      ctx_, context, Access::kAdmin, request, response,
      [&](const google::longrunning::DeleteOperationRequest& in, google::protobuf::Empty&) {
        absl::StatusOr<std::string> id = JobIdOf(in.name());
        if (!id.ok()) return ToGrpcStatus(id.status());
        return ToGrpcStatus(jobs_.Delete(*id));
      });
}

grpc::ServerUnaryReactor* OperationsService::CancelOperation(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return RunRawUnary<google::longrunning::CancelOperationRequest, google::protobuf::Empty>(
      ctx_, context, Access::kAdmin, request, response,
      [&](const google::longrunning::CancelOperationRequest& in, google::protobuf::Empty&) {
        absl::StatusOr<std::string> id = JobIdOf(in.name());
        if (!id.ok()) return ToGrpcStatus(id.status());
        return ToGrpcStatus(jobs_.Cancel(*id).status());
      });
}

grpc::ServerUnaryReactor* OperationsService::WaitOperation(grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* raw_request,
                                                           grpc::ByteBuffer* response) {
  auto* reactor = new WaitOperationReactor(jobs_, response);
  google::longrunning::WaitOperationRequest request;
  grpc::Status status = ctx_.auth->Check(*context);
  if (status.ok()) status = ParseRequest(*raw_request, request);
  absl::StatusOr<std::string> id = JobIdOf(request.name());
  absl::StatusOr<absl::Duration> timeout = WaitTimeout(request);
  if (status.ok() && !id.ok()) status = ToGrpcStatus(id.status());
  if (status.ok() && !timeout.ok()) status = ToGrpcStatus(timeout.status());
  if (!status.ok()) {
    reactor->Reject(status);
  } else {
    reactor->Start(*id, *timeout);
  }
  return reactor;
}

}  // namespace ghost::server
