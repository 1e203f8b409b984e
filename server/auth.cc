#include "server/auth.h"

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

std::optional<std::string_view> Authenticator::BearerToken(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) return std::nullopt;
  constexpr std::string_view kPrefix = "Bearer ";
  const std::string_view value(it->second.data(), it->second.size());
  if (value.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  return value.substr(kPrefix.size());
}

grpc::Status Authenticator::Check(const grpc::ServerContextBase& context) const {
  if (token_.empty()) return grpc::Status::OK;
  const std::optional<std::string_view> bearer = BearerToken(context);
  if (!bearer) return Unauthenticated("missing 'authorization: Bearer <token>' metadata");
  // Both comparisons always run, so timing does not tell which token matched.
  const bool user = ConstantTimeEquals(*bearer, token_);
  const bool admin = !admin_token_.empty() && ConstantTimeEquals(*bearer, admin_token_);
  if (!user && !admin) return Unauthenticated("invalid bearer token");
  return grpc::Status::OK;
}

grpc::Status Authenticator::CheckAdmin(const grpc::ServerContextBase& context) const {
  if (admin_token_.empty()) return Check(context);
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

}  // namespace ghost::server
