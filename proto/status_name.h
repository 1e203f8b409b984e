// Canonical names of gRPC status codes ("OK", "INVALID_ARGUMENT", ...), as google.rpc.Code
// spells them, for metrics labels and client messages.
#ifndef GHOST_PROTO_STATUS_NAME_H_
#define GHOST_PROTO_STATUS_NAME_H_

#include <grpcpp/support/status.h>

namespace ghost {

const char* StatusCodeName(grpc::StatusCode code);

}  // namespace ghost

#endif  // GHOST_PROTO_STATUS_NAME_H_
