#include "server/auth.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "absl/strings/match.h"

namespace ghost::server {
namespace {

// Compares in time independent of where the strings differ, so timing does not reveal the
// token a byte at a time.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::string_view& longer = a.size() >= b.size() ? a : b;
  for (size_t i = 0; i < longer.size(); ++i) {
    const unsigned char x = i < a.size() ? a[i] : 0;
    const unsigned char y = i < b.size() ? b[i] : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

grpc::Status Unauthenticated(const char* message) {
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, message);
}

}  // namespace

std::optional<std::string_view> Authenticator::BearerToken(std::optional<std::string_view> value) {
  if (!value) return std::nullopt;
  // RFC 6750: credentials = "Bearer" 1*SP b64token, and auth schemes are case-insensitive.
  constexpr absl::string_view kScheme = "bearer";
  if (!absl::StartsWithIgnoreCase(absl::string_view(value->data(), value->size()), kScheme)) {
    return std::nullopt;
  }
  value->remove_prefix(kScheme.size());
  const std::size_t token_start = value->find_first_not_of(' ');
  if (token_start == 0 || token_start == std::string_view::npos) return std::nullopt;
  return value->substr(token_start);
}

std::optional<std::string_view> Authenticator::BearerToken(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) return std::nullopt;
  return BearerToken(std::string_view(it->second.data(), it->second.size()));
}

absl::Status Authenticator::CheckToken(std::optional<std::string_view> bearer,
                                       std::string_view missing_message) const {
  if (token_.empty()) return absl::OkStatus();
  if (!bearer) {
    return absl::UnauthenticatedError(
        absl::string_view(missing_message.data(), missing_message.size()));
  }
  // Both comparisons always run, so timing does not tell which token matched.
  const bool user = ConstantTimeEquals(*bearer, token_);
  const bool admin = !admin_token_.empty() && ConstantTimeEquals(*bearer, admin_token_);
  if (!user && !admin) return absl::UnauthenticatedError("invalid bearer token");
  return absl::OkStatus();
}

absl::Status Authenticator::CheckAuthorization(
    std::optional<std::string_view> authorization) const {
  return CheckToken(BearerToken(authorization), "missing 'Authorization: Bearer <token>' header");
}

grpc::Status Authenticator::Check(const grpc::ServerContextBase& context) const {
  const absl::Status status =
      CheckToken(BearerToken(context), "missing 'authorization: Bearer <token>' metadata");
  if (status.ok()) return grpc::Status::OK;
  return Unauthenticated(std::string(status.message()).c_str());
}

grpc::Status Authenticator::CheckAdmin(const grpc::ServerContextBase& context) const {
  if (admin_token_.empty()) {
    if (grpc::Status user = Check(context); !user.ok()) return user;
    if (IsLoopbackPeer(context.peer())) return grpc::Status::OK;
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "admin RPCs from another host need the server to set --admin_token; "
                        "without it they are taken from its own host only");
  }
  const std::optional<std::string_view> bearer = BearerToken(context);
  if (!bearer) {
    return Unauthenticated("this RPC needs 'authorization: Bearer <admin token>' metadata");
  }
  const bool admin = ConstantTimeEquals(*bearer, admin_token_);
  const bool user = !token_.empty() && ConstantTimeEquals(*bearer, token_);
  if (admin) return grpc::Status::OK;
  if (user) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "this RPC needs the admin token; the token given allows only inference "
                        "and queries");
  }
  return Unauthenticated("invalid bearer token");
}

bool IsLoopbackPeer(std::string_view peer) {
  if (peer.starts_with("unix:") || peer.starts_with("unix-abstract:")) return true;
  // "ipv4:ADDRESS:PORT" or "ipv6:[ADDRESS]:PORT".
  const std::size_t colon = peer.find(':');
  const std::size_t port = peer.rfind(':');
  if (colon == std::string_view::npos || port == colon) return false;
  const std::string_view family = peer.substr(0, colon);
  std::string address;
  for (std::string_view rest = peer.substr(colon + 1, port - colon - 1); !rest.empty();) {
    if (absl::StartsWithIgnoreCase(absl::string_view(rest.data(), rest.size()), "%5B")) {
      address += '[';
      rest.remove_prefix(3);
    } else if (absl::StartsWithIgnoreCase(absl::string_view(rest.data(), rest.size()), "%5D")) {
      address += ']';
      rest.remove_prefix(3);
    } else {
      address += rest.front();
      rest.remove_prefix(1);
    }
  }
  if (family == "ipv4") {
    in_addr v4{};
    return inet_pton(AF_INET, address.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
  }
  if (family != "ipv6" || address.size() < 2 || address.front() != '[' || address.back() != ']') {
    return false;
  }
  address = address.substr(1, address.size() - 2);
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  // ::ffff:127.x.y.z, how a dual-stack socket shows an IPv4 loopback peer.
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

}  // namespace ghost::server
