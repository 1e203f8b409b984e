// Shared shape of every unary callback handler: authenticate, run the body, finish.
#ifndef GHOST_SERVER_UNARY_H_
#define GHOST_SERVER_UNARY_H_

#include <grpcpp/grpcpp.h>

#include "server/service_context.h"

namespace ghost::server {

template <typename Body>
grpc::ServerUnaryReactor* RunUnary(const ServiceContext& ctx,
                                   grpc::CallbackServerContext* context, Body body) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status status = ctx.auth->Check(*context);
  if (status.ok()) status = body();
  reactor->Finish(status);
  return reactor;
}

// As RunUnary for the admin RPCs (import, load, unload, delete, compress), which need the
// admin token when one is configured.
template <typename Body>
grpc::ServerUnaryReactor* RunAdminUnary(const ServiceContext& ctx,
                                        grpc::CallbackServerContext* context, Body body) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status status = ctx.auth->CheckAdmin(*context);
  if (status.ok()) status = body();
  reactor->Finish(status);
  return reactor;
}

inline grpc::Status NotYetImplemented(const char* what) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      std::string(what) + " is not implemented in this version of ghostserve");
}

}  // namespace ghost::server

#endif  // GHOST_SERVER_UNARY_H_
