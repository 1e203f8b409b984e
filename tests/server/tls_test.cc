// Integration: TLS and mutual TLS on the gRPC port, with certificates this test makes with the
// openssl command (TESTPLAN E18).
#include <cstdlib>
#include <string>

#include "engine/common/file.h"
#include "ghost/v1/models.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/run_command.h"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

// A CA, a server certificate for localhost / 127.0.0.1 and a client certificate, both signed by
// the CA, and a second CA that signed nothing the server trusts.
class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(std::system("command -v openssl > /dev/null"), 0)
        << "openssl missing: run tools/install-deps.sh (Debian package openssl)";
    dir_ = new std::string(FreshTempDir("tls"));
    const std::string& d = *dir_;
    WriteFile(d + "/server.ext",
              "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
    WriteFile(d + "/client.ext", "basicConstraints=CA:FALSE\n");
    const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string quiet = " 2> /dev/null";
    for (const char* ca : {"ca", "other-ca"}) {
      Run("openssl req -x509" + key + " -keyout " + d + "/" + ca + ".key -out " + d + "/" + ca +
          ".pem -days 2 -subj /CN=ghost-test-" + ca + quiet);
    }
    for (const char* leaf : {"server", "client"}) {
      const std::string base = d + "/" + leaf;
      Run("openssl req" + key + " -keyout " + base + ".key -out " + base +
          ".csr -subj /CN=" + leaf + quiet);
      Run("openssl x509 -req -in " + base + ".csr -CA " + d + "/ca.pem -CAkey " + d +
          "/ca.key -CAcreateserial -days 2 -extfile " + base + ".ext -out " + base + ".pem" +
          quiet);
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static void Run(const std::string& command) {
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  static void WriteFile(const std::string& path, const std::string& contents) {
    FILE* file = std::fopen(path.c_str(), "w");
    ASSERT_NE(file, nullptr) << path;
    std::fputs(contents.c_str(), file);
    std::fclose(file);
  }
  static std::string Pem(const std::string& name) {
    absl::StatusOr<std::string> pem = ReadFileToString(*dir_ + "/" + name + ".pem");
    EXPECT_TRUE(pem.ok()) << pem.status();
    return pem.ok() ? *pem : "";
  }
  static std::string Key(const std::string& name) {
    absl::StatusOr<std::string> key = ReadFileToString(*dir_ + "/" + name + ".key");
    EXPECT_TRUE(key.ok()) << key.status();
    return key.ok() ? *key : "";
  }

  static server::ServerOptions TlsServerOptions(bool mutual) {
    server::ServerOptions options = TestServerOptions();
    options.tls.cert = *dir_ + "/server.pem";
    options.tls.key = *dir_ + "/server.key";
    if (mutual) options.tls.client_ca = *dir_ + "/ca.pem";
    return options;
  }

  // ListModels over a channel with `credentials`; its status says whether the handshake passed.
  static grpc::Status ListModels(int port,
                                 const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    auto channel =
        grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port), credentials, args);
    auto models = ghost::v1::Models::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    ghost::v1::ListModelsResponse response;
    return models->ListModels(&context, {}, &response);
  }

  // A TLS client trusting `ca`, presenting the certificate `client` ("" for none).
  static std::shared_ptr<grpc::ChannelCredentials> TlsClient(const std::string& ca,
                                                             const std::string& client) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Pem(ca);
    if (!client.empty()) {
      ssl.pem_cert_chain = Pem(client);
      ssl.pem_private_key = Key(client);
    }
    return grpc::SslCredentials(ssl);
  }

  static std::string* dir_;
};

std::string* TlsTest::dir_ = nullptr;

TEST_F(TlsTest, TlsServesTlsClientsAndRefusesPlaintext) {
  auto server = StartTestServer(TlsServerOptions(/*mutual=*/false));
  ASSERT_NE(server, nullptr);
  const grpc::Status tls = ListModels(server->port(), TlsClient("ca", ""));
  EXPECT_TRUE(tls.ok()) << tls.error_message();
  EXPECT_EQ(ListModels(server->port(), grpc::InsecureChannelCredentials()).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // A client that does not trust the server's CA refuses the server.
  EXPECT_EQ(ListModels(server->port(), TlsClient("other-ca", "")).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, MutualTlsRefusesClientsWithoutACertificateTheCaSigned) {
  auto server = StartTestServer(TlsServerOptions(/*mutual=*/true));
  ASSERT_NE(server, nullptr);
  const grpc::Status with_cert = ListModels(server->port(), TlsClient("ca", "client"));
  EXPECT_TRUE(with_cert.ok()) << with_cert.error_message();
  EXPECT_EQ(ListModels(server->port(), TlsClient("ca", "")).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ListModels(server->port(), grpc::InsecureChannelCredentials()).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

// ghostctl speaks TLS and mutual TLS with --tls_ca, --tls_cert, --tls_key (and
// --tls_server_name for a certificate that names localhost, reached at 127.0.0.1).
TEST_F(TlsTest, GhostctlConnectsWithMutualTls) {
  auto server = StartTestServer(TlsServerOptions(/*mutual=*/true));
  ASSERT_NE(server, nullptr);
  const std::string ghostctl = std::string(GHOST_BINARY_DIR) + "/clients/ghostctl/ghostctl" +
                               " --address 127.0.0.1:" + std::to_string(server->port()) +
                               " --tls_server_name localhost --tls_ca " + *dir_ + "/ca.pem";
  const std::string client =
      " --tls_cert " + *dir_ + "/client.pem --tls_key " + *dir_ + "/client.key";
  std::string output;
  EXPECT_EQ(RunCommand(ghostctl + client + " list 2>&1", output), 0) << output;
  EXPECT_NE(output.find("NAME"), std::string::npos) << output;
  // Without its certificate the server refuses it; a missing file is named.
  output.clear();
  EXPECT_NE(RunCommand(ghostctl + " list 2>&1", output), 0) << output;
  EXPECT_NE(output.find("UNAVAILABLE"), std::string::npos) << output;
  output.clear();
  EXPECT_NE(RunCommand(ghostctl + " --tls_cert " + *dir_ + "/missing.pem --tls_key " + *dir_ +
                           "/client.key list 2>&1",
                       output),
            0);
  EXPECT_NE(output.find("--tls_cert: cannot read"), std::string::npos) << output;
}

TEST_F(TlsTest, IncompleteOrUnreadableSettingsFailTheStart) {
  server::ServerOptions options = TlsServerOptions(/*mutual=*/false);
  options.tls.key.clear();
  EXPECT_EQ(server::GhostServer::Start(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = TestServerOptions();
  options.tls.client_ca = *dir_ + "/ca.pem";
  EXPECT_EQ(server::GhostServer::Start(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = TlsServerOptions(/*mutual=*/false);
  options.tls.cert = *dir_ + "/missing.pem";
  const absl::Status missing = server::GhostServer::Start(options).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("--tls_cert"), std::string::npos) << missing;
}

}  // namespace
}  // namespace ghost::testing
