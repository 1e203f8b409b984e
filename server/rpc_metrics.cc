#include "server/rpc_metrics.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/support/interceptor.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/status_name.h"

namespace ghost::server {
namespace {

class RpcMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  // `service` and `method` outlive the call (the factory owns them).
  RpcMetricsInterceptor(ServerMetrics& metrics, const Authenticator& auth,
                        grpc::experimental::ServerRpcInfo* info, const std::string& service,
                        const std::string& method)
      : metrics_(metrics), auth_(auth), info_(info), service_(service), method_(method) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      // The client's metadata has arrived by the time a status is sent.
      if (auth_.Check(*info_->server_context()).ok()) {
        metrics_.CountRpc(service_, method_, StatusCodeName(methods->GetSendStatus().error_code()),
                          absl::ToDoubleSeconds(absl::Now() - start_));
      } else {
        metrics_.CountUnauthenticatedRpc();
      }
    }
    methods->Proceed();
  }

 private:
  ServerMetrics& metrics_;
  const Authenticator& auth_;
  grpc::experimental::ServerRpcInfo* const info_;  // owned by gRPC for the life of the call
  const std::string& service_;
  const std::string& method_;
  const absl::Time start_ = absl::Now();
};

const std::string& Unknown() {
  static const auto* unknown = new std::string("unknown");
  return *unknown;
}

}  // namespace

RpcMetricsInterceptorFactory::RpcMetricsInterceptorFactory(ServerMetrics& metrics,
                                                           const Authenticator& auth,
                                                           const std::vector<std::string>& services)
    : metrics_(metrics), auth_(auth) {
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    if (service == nullptr) continue;  // not linked in: its calls count as unknown
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string& method = service->method(i)->name();
      known_methods_[absl::StrCat("/", name, "/", method)] = {name, method};
    }
  }
}

grpc::experimental::Interceptor* RpcMetricsInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  const auto it = known_methods_.find(info->method() == nullptr ? "" : info->method());
  if (it == known_methods_.end()) {
    return new RpcMetricsInterceptor(metrics_, auth_, info, Unknown(), Unknown());
  }
  return new RpcMetricsInterceptor(metrics_, auth_, info, it->second.first, it->second.second);
}

}  // namespace ghost::server
