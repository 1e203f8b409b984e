#include "server/rpc_metrics.h"

#include <grpcpp/support/interceptor.h>

#include <string_view>

#include "absl/time/clock.h"
#include "proto/status_name.h"

namespace ghost::server {
namespace {

class RpcMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(ServerMetrics& metrics, std::string_view full_method)
      : metrics_(metrics), full_method_(full_method) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_.CountRpc(full_method_, StatusCodeName(methods->GetSendStatus().error_code()),
                        absl::ToDoubleSeconds(absl::Now() - start_));
    }
    methods->Proceed();
  }

 private:
  ServerMetrics& metrics_;
  const std::string_view full_method_;  // owned by gRPC for the life of the call
  const absl::Time start_ = absl::Now();
};

}  // namespace

grpc::experimental::Interceptor* RpcMetricsInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RpcMetricsInterceptor(metrics_, info->method() == nullptr ? "" : info->method());
}

}  // namespace ghost::server
