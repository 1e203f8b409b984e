#include "clients/ghostctl/connection.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "proto/status_name.h"

ABSL_FLAG(std::string, address, "localhost:50051", "server address host:port");
ABSL_FLAG(std::string, token, "", "bearer token (default: env GHOST_AUTH_TOKEN)");
ABSL_FLAG(std::string, model, "", "model name (default: the server's default model)");
ABSL_FLAG(double, timeout_s, 0, "deadline of generate and eval, in seconds (0: none)");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificates to verify the server with: connect over TLS (default: plaintext, "
          "or the system's CAs when only --tls_cert is set)");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM client certificate chain for mutual TLS (with --tls_key); implies TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_server_name, "",
          "name the server's certificate must carry, when --address names it otherwise "
          "(e.g. an IP address)");

namespace ghost::ctl {
namespace {

// The contents of the PEM file `path` named by --`flag`; exits with a message when unreadable
// (before any call, so nothing is half done).
std::string ReadPemOrExit(const char* flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  if (!in || contents.str().empty()) {
    std::fprintf(stderr, "ghostctl: --%s: cannot read %s\n", flag, path.c_str());
    std::exit(2);
  }
  return contents.str();
}

}  // namespace

std::shared_ptr<grpc::Channel> OpenChannel() {
  const std::string ca = absl::GetFlag(FLAGS_tls_ca);
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  if (ca.empty() && cert.empty() && key.empty()) {
    return grpc::CreateChannel(absl::GetFlag(FLAGS_address), grpc::InsecureChannelCredentials());
  }
  if (cert.empty() != key.empty()) {
    std::fprintf(stderr, "ghostctl: --tls_cert and --tls_key go together\n");
    std::exit(2);
  }
  grpc::SslCredentialsOptions ssl;
  if (!ca.empty()) ssl.pem_root_certs = ReadPemOrExit("tls_ca", ca);
  if (!cert.empty()) {
    ssl.pem_cert_chain = ReadPemOrExit("tls_cert", cert);
    ssl.pem_private_key = ReadPemOrExit("tls_key", key);
  }
  grpc::ChannelArguments args;
  if (const std::string name = absl::GetFlag(FLAGS_tls_server_name); !name.empty()) {
    args.SetSslTargetNameOverride(name);
  }
  return grpc::CreateCustomChannel(absl::GetFlag(FLAGS_address), grpc::SslCredentials(ssl), args);
}

std::unique_ptr<grpc::ClientContext> NewContext(double deadline_s) {
  auto context = std::make_unique<grpc::ClientContext>();
  std::string token = absl::GetFlag(FLAGS_token);
  if (token.empty()) {
    if (const char* env = std::getenv("GHOST_AUTH_TOKEN")) token = env;
  }
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  if (deadline_s > 0) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(static_cast<long>(deadline_s * 1000)));
  }
  return context;
}

int ReportError(const char* what, const grpc::Status& status) {
  std::fprintf(stderr, "ghostctl: %s: %s: %s\n", what, StatusCodeName(status.error_code()),
               status.error_message().c_str());
  return 1;
}

}  // namespace ghost::ctl
