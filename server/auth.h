// Bearer-token authentication, checked at the start of every RPC handler.
#ifndef GHOST_SERVER_AUTH_H_
#define GHOST_SERVER_AUTH_H_

#include <grpcpp/server_context.h>

#include <string>

namespace ghost::server {

class Authenticator {
 public:
  // An empty token disables authentication.
  explicit Authenticator(std::string token) : token_(std::move(token)) {}

  // OK, or UNAUTHENTICATED when the call lacks "authorization: Bearer <token>".
  grpc::Status Check(const grpc::ServerContextBase& context) const;
  bool enabled() const { return !token_.empty(); }

 private:
  std::string token_;
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_AUTH_H_
