#include "server/http/api_error.h"

#include <optional>
#include <utility>

#include "absl/strings/cord.h"
#include "nlohmann/json.hpp"

namespace ghost::server::http {
namespace {

// Where FieldError keeps the field's name on the Status.
constexpr char kParamPayload[] = "type.ghostserve/http.param";

nlohmann::json NullIfEmpty(const std::string& value) {
  return value.empty() ? nlohmann::json(nullptr) : nlohmann::json(value);
}

}  // namespace

absl::Status FieldError(const std::string& param, const std::string& message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kParamPayload, absl::Cord(param));
  return status;
}

ApiError FromStatus(const absl::Status& status) {
  ApiError error;
  error.message = std::string(status.message());
  error.type = "invalid_request_error";
  if (absl::optional<absl::Cord> param = status.GetPayload(kParamPayload)) {
    error.param = std::string(*param);
  }
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      error.http_status = 400;
      break;
    case absl::StatusCode::kUnauthenticated:
      error.http_status = 401;
      error.code = "invalid_api_key";
      break;
    case absl::StatusCode::kPermissionDenied:
      error.http_status = 403;
      break;
    case absl::StatusCode::kNotFound:
      error.http_status = 404;
      error.code = "model_not_found";
      error.param = "model";
      break;
    case absl::StatusCode::kResourceExhausted:
      error.http_status = 429;
      error.type = "rate_limit_error";
      error.code = "rate_limit_exceeded";
      break;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kFailedPrecondition:
      error.http_status = 503;
      error.type = "server_error";
      error.code = "service_unavailable";
      break;
    default:
      error.http_status = 500;
      error.type = "server_error";
      break;
  }
  return error;
}

ApiError RequestError(int http_status, std::string message, std::string code) {
  return ApiError{http_status, std::move(message), "invalid_request_error", "", std::move(code)};
}

std::string ErrorBody(const ApiError& error) {
  const nlohmann::json body = {{"error",
                                {{"message", error.message},
                                 {"type", error.type},
                                 {"param", NullIfEmpty(error.param)},
                                 {"code", NullIfEmpty(error.code)}}}};
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ghost::server::http
