// The one place where engine errors (absl::Status) become gRPC statuses.
#ifndef GHOST_SERVER_STATUS_H_
#define GHOST_SERVER_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace ghost::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace ghost::server

#endif  // GHOST_SERVER_STATUS_H_
