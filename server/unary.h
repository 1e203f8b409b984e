// Shared shape of every unary callback handler: authenticate, parse, run the body, finish.
#ifndef GHOST_SERVER_UNARY_H_
#define GHOST_SERVER_UNARY_H_

#include <grpcpp/grpcpp.h>

#include "server/raw_message.h"
#include "server/service_context.h"

namespace ghost::server {

// Who may call an RPC: anyone with the user token, or only the admin (Authenticator::CheckAdmin).
enum class Access { kUser, kAdmin };

// A unary handler over a raw method (raw_message.h): authenticates, parses the request (a string
// field with invalid UTF-8 is INVALID_ARGUMENT naming it), runs body(const Request&, Response&) and
// serializes the response.
template <typename Request, typename Response, typename Body>
grpc::ServerUnaryReactor* RunRawUnary(const ServiceContext& ctx,
                                      grpc::CallbackServerContext* context, Access access,
                                      const grpc::ByteBuffer* raw_request,
                                      grpc::ByteBuffer* raw_response, Body body) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  grpc::Status status =
      access == Access::kAdmin ? ctx.auth->CheckAdmin(*context) : ctx.auth->Check(*context);
  Request request;
  Response response;
  if (status.ok()) status = ParseRequest(*raw_request, request);
  if (status.ok()) status = body(static_cast<const Request&>(request), response);
  if (status.ok()) SerializeResponse(response, *raw_response);
  reactor->Finish(status);
  return reactor;
}

}  // namespace ghost::server

#endif  // GHOST_SERVER_UNARY_H_
