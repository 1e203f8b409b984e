// Bearer-token authentication, checked at the start of every RPC handler. Two tokens: the
// user token admits inference and queries, the admin token additionally admits the admin RPCs
// (import, load, unload, delete, compress, cancel and delete operation). Without an admin
// token, admin RPCs are taken only from the server's own host.
#ifndef GHOST_SERVER_AUTH_H_
#define GHOST_SERVER_AUTH_H_

#include <grpcpp/server_context.h>

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace ghost::server {

class Authenticator {
 public:
  // An empty `token` opens the user RPCs to everyone; an empty `admin_token` lets whoever
  // passes the user check call the admin RPCs too, from a loopback peer only.
  Authenticator(std::string token, std::string admin_token)
      : token_(std::move(token)), admin_token_(std::move(admin_token)) {}

  // OK for the user or the admin token (or when no user token is set); UNAUTHENTICATED when
  // the call lacks "authorization: Bearer <token>" (the scheme in any case, RFC 6750) or the
  // token is wrong.
  grpc::Status Check(const grpc::ServerContextBase& context) const;
  // With an admin token: OK for it; PERMISSION_DENIED for a valid user token; UNAUTHENTICATED
  // for none or a wrong one. Without: as Check, then PERMISSION_DENIED unless the peer is on
  // this host (IsLoopbackPeer), so that a server bound to a public address does not hand model
  // management to the network.
  grpc::Status CheckAdmin(const grpc::ServerContextBase& context) const;
  // Check for an HTTP request: `authorization` is its Authorization header (nullopt: none).
  absl::Status CheckAuthorization(std::optional<std::string_view> authorization) const;

 private:
  // The token of an "authorization" value, or nullopt when it is missing or malformed.
  static std::optional<std::string_view> BearerToken(std::optional<std::string_view> value);
  static std::optional<std::string_view> BearerToken(const grpc::ServerContextBase& context);
  // OK, or UNAUTHENTICATED with `missing_message` when there is no token and one is needed.
  absl::Status CheckToken(std::optional<std::string_view> bearer,
                          std::string_view missing_message) const;

  std::string token_;
  std::string admin_token_;
};

// Whether a gRPC peer string ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000", "unix:/path") is on this
// host: an IPv4 address in 127.0.0.0/8, ::1, an IPv4-mapped loopback address, or a Unix socket.
// Bracket characters may be percent-encoded ("ipv6:%5B::1%5D:5000").
bool IsLoopbackPeer(std::string_view peer);

}  // namespace ghost::server

#endif  // GHOST_SERVER_AUTH_H_
