// How ghostctl reaches a server: address, TLS or mutual TLS, bearer token, per-call deadline.
#ifndef GHOST_CLIENTS_GHOSTCTL_CONNECTION_H_
#define GHOST_CLIENTS_GHOSTCTL_CONNECTION_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/flags/declare.h"

ABSL_DECLARE_FLAG(std::string, address);
ABSL_DECLARE_FLAG(std::string, token);
ABSL_DECLARE_FLAG(std::string, model);
ABSL_DECLARE_FLAG(double, timeout_s);

namespace ghost::ctl {

// Plaintext, or TLS when --tls_ca or --tls_cert is set (mutual TLS with --tls_cert and
// --tls_key); exits with status 2 and a message when a PEM file cannot be read.
std::shared_ptr<grpc::Channel> OpenChannel();
// A context carrying the bearer token (from --token or GHOST_AUTH_TOKEN) and a deadline
// (seconds; <= 0 means none).
std::unique_ptr<grpc::ClientContext> NewContext(double deadline_s);
// Prints "ghostctl: <what>: <code>: <message>" to stderr and returns the exit code (1).
int ReportError(const char* what, const grpc::Status& status);

}  // namespace ghost::ctl

#endif  // GHOST_CLIENTS_GHOSTCTL_CONNECTION_H_
