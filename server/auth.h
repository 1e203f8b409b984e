// Bearer-token authentication, checked at the start of every RPC handler. Two tokens: the
// user token admits inference and queries, the admin token additionally admits the admin RPCs
// (import, load, unload, delete, compress).
#ifndef GHOST_SERVER_AUTH_H_
#define GHOST_SERVER_AUTH_H_

#include <grpcpp/server_context.h>

#include <optional>
#include <string>
#include <string_view>

namespace ghost::server {

class Authenticator {
 public:
  // An empty `token` opens the user RPCs to everyone; an empty `admin_token` lets whoever
  // passes the user check call the admin RPCs too.
  Authenticator(std::string token, std::string admin_token)
      : token_(std::move(token)), admin_token_(std::move(admin_token)) {}

  // OK for the user or the admin token (or when no user token is set); UNAUTHENTICATED when
  // the call lacks "authorization: Bearer <token>" or the token is wrong.
  grpc::Status Check(const grpc::ServerContextBase& context) const;
  // OK for the admin token (or as Check when no admin token is set); PERMISSION_DENIED for a
  // valid user token; UNAUTHENTICATED for none or a wrong one.
  grpc::Status CheckAdmin(const grpc::ServerContextBase& context) const;

 private:
  // The bearer token of the call, or nullopt when the metadata is missing or malformed.
  static std::optional<std::string_view> BearerToken(const grpc::ServerContextBase& context);

  std::string token_;
  std::string admin_token_;
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_AUTH_H_
