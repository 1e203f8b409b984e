// Errors in OpenAI's shape, {"error": {"message", "type", "param", "code"}}, with the matching
// HTTP status: the one place where an absl::Status becomes an HTTP answer.
#ifndef GHOST_SERVER_HTTP_API_ERROR_H_
#define GHOST_SERVER_HTTP_API_ERROR_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace ghost::server::http {

struct ApiError {
  int http_status = 500;
  std::string message;
  std::string type;   // "invalid_request_error", "rate_limit_error", "server_error", ...
  std::string param;  // the request field at fault; empty: null
  std::string code;   // "model_not_found", "invalid_api_key", ...; empty: null
};

// INVALID_ARGUMENT about request field `param` (the wire name, e.g. "stream_options"): the
// error's `param` names it.
absl::Status FieldError(const std::string& param, const std::string& message);

// The HTTP status for a Status: INVALID_ARGUMENT and OUT_OF_RANGE 400, UNAUTHENTICATED 401,
// PERMISSION_DENIED 403, NOT_FOUND 404, RESOURCE_EXHAUSTED 429 (the caller adds Retry-After),
// UNAVAILABLE and FAILED_PRECONDITION 503 (draining, or the model is not loaded), CANCELLED 499
// is never sent (the client is gone), anything else 500. The message is the Status's.
ApiError FromStatus(const absl::Status& status);

// A status the server chose itself (413, 415, ...) with OpenAI's invalid_request_error type.
ApiError RequestError(int http_status, std::string message, std::string code);

// The JSON body of `error`.
std::string ErrorBody(const ApiError& error);

}  // namespace ghost::server::http

#endif  // GHOST_SERVER_HTTP_API_ERROR_H_
