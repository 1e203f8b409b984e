// grpc_server_handled_total and grpc_server_handling_seconds for every RPC, recorded by a
// server interceptor so no handler has to remember to.
#ifndef GHOST_SERVER_RPC_METRICS_H_
#define GHOST_SERVER_RPC_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include "server/metrics.h"

namespace ghost::server {

class RpcMetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(ServerMetrics& metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  ServerMetrics& metrics_;
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_RPC_METRICS_H_
