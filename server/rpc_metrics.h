// grpc_server_handled_total and grpc_server_handling_seconds for every RPC, recorded by a
// server interceptor so no handler has to remember to. Their label values come from closed sets
// so that no caller can grow /metrics (TESTPLAN G24): a method the server does not serve counts
// as grpc_service="unknown", grpc_method="unknown", and a call without a valid bearer token
// (when one is configured; health probes included) only increments the one series of
// ghost_unauthenticated_rpcs_total.
#ifndef GHOST_SERVER_RPC_METRICS_H_
#define GHOST_SERVER_RPC_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "server/auth.h"
#include "server/metrics.h"

namespace ghost::server {

class RpcMetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `services`: the full names of the services served ("ghost.v1.Inference", ...); their
  // methods, read from the generated descriptor pool, are the ones counted by name.
  RpcMetricsInterceptorFactory(ServerMetrics& metrics, const Authenticator& auth,
                               const std::vector<std::string>& services);
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  ServerMetrics& metrics_;
  const Authenticator& auth_;
  // "/ghost.v1.Inference/Generate" -> {"ghost.v1.Inference", "Generate"}.
  absl::flat_hash_map<std::string, std::pair<std::string, std::string>> known_methods_;
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_RPC_METRICS_H_
