// The gRPC port's credentials: plaintext, TLS, or mutual TLS, from PEM files.
#ifndef GHOST_SERVER_TLS_H_
#define GHOST_SERVER_TLS_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ghost::server {

// Paths of PEM files; all empty means plaintext.
struct TlsOptions {
  std::string cert;       // the server's certificate chain
  std::string key;        // its private key
  std::string client_ca;  // set: mutual TLS, clients need a certificate this CA signed

  // INVALID_ARGUMENT unless cert and key are both set or both empty, and client_ca has a cert.
  absl::Status Validate() const;
};

// Reads the files and builds the credentials; an error names the flag and the file. Without a
// cert, insecure (plaintext) credentials.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const TlsOptions& options);

}  // namespace ghost::server

#endif  // GHOST_SERVER_TLS_H_
