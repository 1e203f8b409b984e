// Integration: compression jobs over gRPC on the real server and the real compressor, on a
// copy of models/ghost-tiny: compress -> wait -> load the new model -> generate; bad requests
// with their codes; cancellation leaving no model; listing pages; admin authentication.
#include <filesystem>

#include "engine/compressor/model_compressor.h"
#include "ghost/v1/models.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/run_command.h"
#include "tests/server/compression_client.h"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class CompressionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = FreshTempDir("compress_models");
    fs::copy(std::string(GHOST_SOURCE_DIR) + "/models/ghost-tiny", root_ + "/ghost-tiny",
             fs::copy_options::recursive);
    options_ = TestServerOptions();
    options_.model_roots = {root_};
    output_root_ = options_.data_dir + "/models";
  }

  void TearDown() override {
    server_.reset();
    fs::remove_all(root_);
    fs::remove_all(options_.data_dir);
  }

  void Start(const std::string& token = "") {
    server_ = StartTestServer(options_);
    ASSERT_NE(server_, nullptr);
    channel_ = ChannelTo(server_->port());
    client_ = std::make_unique<CompressionClient>(channel_, token);
    models_ = ghost::v1::Models::NewStub(channel_);
  }

  std::vector<std::string> ModelNames() {
    ghost::v1::ListModelsResponse list;
    EXPECT_TRUE(models_->ListModels(ContextWithToken("").get(), {}, &list).ok());
    std::vector<std::string> names;
    for (const auto& model : list.models()) names.push_back(model.name());
    return names;
  }

  // Entries of the output root named after the output `name`: its directory and partial ones.
  std::vector<std::string> EntriesFor(const std::string& name) const {
    std::vector<std::string> found;
    for (const fs::directory_entry& entry : fs::directory_iterator(output_root_)) {
      const std::string file = entry.path().filename().string();
      if (file == name || file.rfind(name + ".", 0) == 0) found.push_back(file);
    }
    return found;
  }

  // The output is nowhere: no directory, no partial directory, no registry entry.
  void ExpectNoModel(const std::string& name) {
    EXPECT_THAT(EntriesFor(name), ::testing::IsEmpty());
    EXPECT_THAT(ModelNames(), ::testing::Not(::testing::Contains(name)));
  }

  std::string root_;         // holds the source model; the server only reads it
  std::string output_root_;  // <data_dir>/models: compression outputs
  server::ServerOptions options_;
  std::unique_ptr<server::GhostServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<CompressionClient> client_;
  std::unique_ptr<ghost::v1::Models::Stub> models_;
};

TEST_F(CompressionTest, CompressedModelLoadsAndGenerates) {
  Start();
  ghost::v1::CompressRequest request = CompressRequestFor("ghost-tiny", "tiny-t64");
  request.set_request_id("job-1");
  google::longrunning::Operation operation;
  ASSERT_TRUE(client_->Compress(request, &operation).ok());
  EXPECT_THAT(operation.name(), ::testing::StartsWith("operations/"));
  // A retry with the same request_id is the same operation.
  google::longrunning::Operation retry;
  ASSERT_TRUE(client_->Compress(request, &retry).ok());
  EXPECT_EQ(retry.name(), operation.name());

  const google::longrunning::Operation done = client_->AwaitDone(operation.name());
  ASSERT_TRUE(done.has_response()) << done.error().message();
  grpc::Status status;
  ghost::v1::CompressResponse response;
  ASSERT_TRUE(done.response().UnpackTo(&response));
  EXPECT_EQ(response.model(), "tiny-t64");
  EXPECT_GT(response.bits_per_weight(), 1.5);
  EXPECT_LT(response.bits_per_weight(), 4);
  EXPECT_GT(response.compression_ratio(), 1);
  EXPECT_GT(response.bits_per_byte_before(), 0);
  EXPECT_GT(response.bits_per_byte_after(), 0);
  ASSERT_GT(response.layers_size(), 0);
  for (const ghost::v1::LayerQuality& layer : response.layers()) {
    EXPECT_GT(layer.cosine(), 0.5) << layer.tensor();
  }
  const ghost::v1::CompressMetadata metadata = MetadataOf(done);
  EXPECT_EQ(metadata.phase(), "done");
  EXPECT_EQ(metadata.percent(), 100);
  EXPECT_GT(metadata.elapsed_seconds(), 0);
  EXPECT_THAT(EntriesFor("tiny-t64"), ::testing::ElementsAre("tiny-t64"));
  // Issue 16: outputs go to the data directory; the model roots (models/ in a checkout) are
  // only read.
  std::vector<std::string> in_root;
  for (const fs::directory_entry& entry : fs::directory_iterator(root_)) {
    in_root.push_back(entry.path().filename().string());
  }
  EXPECT_THAT(in_root, ::testing::ElementsAre("ghost-tiny"));

  // ghostctl retrying with the same request_id gets the finished job and prints its report.
  const std::string ghostctl = std::string(GHOST_BINARY_DIR) + "/clients/ghostctl/ghostctl" +
                               " --address=127.0.0.1:" + std::to_string(server_->port());
  std::string printed;
  ASSERT_EQ(RunCommand(ghostctl + " compress --model ghost-tiny --output tiny-t64 --scheme "
                                  "ternary --block_size 64 --request_id job-1 --wait 2>&1",
                       printed),
            0)
      << printed;
  EXPECT_THAT(printed, HasSubstr(operation.name()));
  EXPECT_THAT(printed, HasSubstr("bits/weight"));
  EXPECT_THAT(printed, HasSubstr(response.layers(0).tensor()));
  printed.clear();
  ASSERT_EQ(RunCommand(ghostctl + " jobs", printed), 0);
  EXPECT_THAT(printed, HasSubstr(operation.name() + "  succeeded"));

  // Issue 16: a compressed source is refused at Compress (it used to fail later, naming a server
  // path), and a finished operation cannot be cancelled (AIP-151).
  status = client_->Compress(CompressRequestFor("tiny-t64", "tiny-t64-again"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("\"tiny-t64\" is compressed already"));
  EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr(options_.data_dir)));
  EXPECT_EQ(client_->Cancel(operation.name()).error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  ghost::v1::LoadModelRequest load;
  load.set_name("tiny-t64");
  ghost::v1::Model model;
  ASSERT_TRUE(models_->LoadModel(ContextWithToken("").get(), load, &model).ok());
  EXPECT_EQ(model.state(), ghost::v1::READY);
  auto inference = ghost::v1::Inference::NewStub(channel_);
  const ghost::v1::GenerateRequest generate = GreedyRequest("tiny-t64", 8);
  const StreamResult result = CollectStream(*inference, generate);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.token_ids.size(), 8u);

  EXPECT_EQ(AwaitMetric(server_->metrics_port(), "ghost_compression_jobs{state=\"succeeded\"}", 1),
            1);
  // Deleting the operation keeps the model.
  ASSERT_TRUE(client_->Delete(operation.name()).ok());
  EXPECT_EQ(client_->Get(operation.name(), &retry).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(ModelNames(), ::testing::Contains("tiny-t64"));
}

TEST_F(CompressionTest, BadRequestsFailAtOnce) {
  fs::copy(root_ + "/ghost-tiny", root_ + "/no-sample", fs::copy_options::recursive);
  fs::remove(root_ + "/no-sample/validation-sample.txt");
  Start();
  ghost::v1::ImportModelRequest import;
  import.set_name("no-sample");
  import.set_path("no-sample");
  ghost::v1::Model model;
  ASSERT_TRUE(models_->ImportModel(ContextWithToken("").get(), import, &model).ok());

  EXPECT_EQ(client_->Compress(CompressRequestFor("missing", "out")).error_code(),
            grpc::StatusCode::NOT_FOUND);
  ghost::v1::CompressRequest request = CompressRequestFor("ghost-tiny", "out");
  request.set_scheme("int3");
  grpc::Status status = client_->Compress(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("codebook4"));  // lists the accepted schemes
  request = CompressRequestFor("ghost-tiny", "out");
  request.set_block_size(48);
  status = client_->Compress(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("128"));
  EXPECT_EQ(client_->Compress(CompressRequestFor("ghost-tiny", "no-sample")).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  fs::create_directory(output_root_ + "/stray");
  EXPECT_EQ(client_->Compress(CompressRequestFor("ghost-tiny", "stray")).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  status = client_->Compress(CompressRequestFor("no-sample", "out"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("validation-sample.txt"));
  // Calibration text is bounded (evaluating 200 KB took minutes): 256 KiB at most.
  request = CompressRequestFor("ghost-tiny", "out");
  request.set_calibration_text(std::string(256 * 1024 + 1, 'a'));
  status = client_->Compress(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("at most 262144"));

  google::longrunning::Operation operation;
  for (const char* name : {"operations/0123456789abcdef", "bogus", "operations/"}) {
    EXPECT_EQ(client_->Get(name, &operation).error_code(), grpc::StatusCode::NOT_FOUND) << name;
    EXPECT_EQ(client_->WaitOnce(name, 1, &operation).error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(client_->Cancel(name).error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(client_->Delete(name).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  google::longrunning::ListOperationsResponse list;
  EXPECT_EQ(client_->List(10, "not-a-token", &list).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  ExpectNoModel("out");
}

// Appends string field `number` holding `bytes` to `message` as it goes on the wire, past the
// client library's UTF-8 check (as any other client could send it).
void AppendRawString(google::protobuf::Message& message, int number, const std::string& bytes) {
  message.GetReflection()->MutableUnknownFields(&message)->AddLengthDelimited(number, bytes);
}

// TESTPLAN A5 for the Compression and Operations services: invalid UTF-8 in a string field is
// INVALID_ARGUMENT naming the field (gRPC's own parsing answered UNIMPLEMENTED, no message).
TEST_F(CompressionTest, InvalidUtf8InAStringFieldIsInvalidArgumentNamingIt) {
  Start();
  const std::string invalid = "ok\xC3\x28";
  const auto expect_named = [](const grpc::Status& status, const std::string& field) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_EQ(status.error_message(),
              "field " + field + " is not valid UTF-8 (string fields must be)");
  };
  auto compression = ghost::v1::Compression::NewStub(channel_);
  auto operations = google::longrunning::Operations::NewStub(channel_);
  ghost::v1::CompressRequest compress = CompressRequestFor("ghost-tiny", "out");
  compress.clear_output_model();
  AppendRawString(compress, ghost::v1::CompressRequest::kOutputModelFieldNumber, invalid);
  google::longrunning::Operation operation;
  expect_named(compression->Compress(ContextWithToken("").get(), compress, &operation),
               "output_model of ghost.v1.CompressRequest");
  ExpectNoModel("out");

  google::longrunning::GetOperationRequest get;
  AppendRawString(get, google::longrunning::GetOperationRequest::kNameFieldNumber, invalid);
  expect_named(operations->GetOperation(ContextWithToken("").get(), get, &operation),
               "name of google.longrunning.GetOperationRequest");
  google::longrunning::WaitOperationRequest wait;
  AppendRawString(wait, google::longrunning::WaitOperationRequest::kNameFieldNumber, invalid);
  expect_named(operations->WaitOperation(ContextWithToken("").get(), wait, &operation),
               "name of google.longrunning.WaitOperationRequest");
  google::longrunning::CancelOperationRequest cancel;
  AppendRawString(cancel, google::longrunning::CancelOperationRequest::kNameFieldNumber, invalid);
  google::protobuf::Empty empty;
  expect_named(operations->CancelOperation(ContextWithToken("").get(), cancel, &empty),
               "name of google.longrunning.CancelOperationRequest");
  google::longrunning::DeleteOperationRequest del;
  AppendRawString(del, google::longrunning::DeleteOperationRequest::kNameFieldNumber, invalid);
  expect_named(operations->DeleteOperation(ContextWithToken("").get(), del, &empty),
               "name of google.longrunning.DeleteOperationRequest");
  google::longrunning::ListOperationsRequest list;
  AppendRawString(list, google::longrunning::ListOperationsRequest::kPageTokenFieldNumber, invalid);
  google::longrunning::ListOperationsResponse listed;
  expect_named(operations->ListOperations(ContextWithToken("").get(), list, &listed),
               "page_token of google.longrunning.ListOperationsRequest");
  // Well-formed calls still work.
  EXPECT_TRUE(operations->ListOperations(ContextWithToken("").get(), {}, &listed).ok());
}

TEST_F(CompressionTest, CancelledJobsLeaveNoModel) {
  Start();
  // Both jobs are cancelled: the first while it runs (a job takes seconds), the second while
  // it waits behind it on the single worker.
  const ghost::v1::CompressRequest slow = CompressRequestFor("ghost-tiny", "slow");
  google::longrunning::Operation running;
  google::longrunning::Operation queued;
  ASSERT_TRUE(client_->Compress(slow, &running).ok());
  ASSERT_TRUE(client_->Compress(CompressRequestFor("ghost-tiny", "queued"), &queued).ok());
  EXPECT_EQ(MetadataOf(queued).phase(), "queued");
  EXPECT_EQ(MetadataOf(queued).model(), "ghost-tiny");
  EXPECT_EQ(MetadataOf(queued).output_model(), "queued");
  // The output of an unfinished job is taken: the message names the job, not a directory.
  const grpc::Status taken = client_->Compress(slow);
  EXPECT_EQ(taken.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(taken.error_message(),
              HasSubstr("\"slow\" is being written by compression job " + running.name()));
  EXPECT_EQ(client_->Delete(running.name()).error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  ASSERT_TRUE(client_->Cancel(queued.name()).ok());
  ASSERT_TRUE(client_->Cancel(running.name()).ok());
  for (const auto* operation : {&running, &queued}) {
    const google::longrunning::Operation done = client_->AwaitDone(operation->name());
    EXPECT_EQ(done.error().code(), grpc::StatusCode::CANCELLED) << done.error().message();
    EXPECT_FALSE(done.has_response());
  }
  ExpectNoModel("slow");
  ExpectNoModel("queued");

  // Pages of one, oldest first.
  google::longrunning::ListOperationsResponse page;
  ASSERT_TRUE(client_->List(1, "", &page).ok());
  ASSERT_EQ(page.operations_size(), 1);
  EXPECT_EQ(page.operations(0).name(), running.name());
  ASSERT_FALSE(page.next_page_token().empty());
  const std::string token = page.next_page_token();
  page.Clear();
  ASSERT_TRUE(client_->List(1, token, &page).ok());
  ASSERT_EQ(page.operations_size(), 1);
  EXPECT_EQ(page.operations(0).name(), queued.name());
  EXPECT_TRUE(page.next_page_token().empty());
  EXPECT_EQ(AwaitMetric(server_->metrics_port(), "ghost_compression_jobs{state=\"cancelled\"}", 2),
            2);
}

TEST_F(CompressionTest, WaitAnswersAtItsTimeoutWhileTheJobRuns) {
  Start();
  ghost::v1::CompressRequest request = CompressRequestFor("ghost-tiny", "waited");
  google::longrunning::Operation operation;
  ASSERT_TRUE(client_->Compress(request, &operation).ok());
  google::longrunning::Operation waited;
  ASSERT_TRUE(client_->WaitOnce(operation.name(), 0, &waited).ok());
  EXPECT_EQ(waited.name(), operation.name());
  EXPECT_FALSE(waited.done());
  ASSERT_TRUE(client_->Cancel(operation.name()).ok());
  EXPECT_TRUE(client_->AwaitDone(operation.name()).done());
}

TEST_F(CompressionTest, AdminRpcsNeedTheAdminToken) {
  options_.auth_token = "user-token";
  options_.admin_token = "admin-token";
  Start("user-token");
  const ghost::v1::CompressRequest request = CompressRequestFor("ghost-tiny", "out");
  EXPECT_EQ(client_->Compress(request).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CompressionClient(channel_).Compress(request).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  CompressionClient admin(channel_, "admin-token");
  google::longrunning::Operation operation;
  ASSERT_TRUE(admin.Compress(request, &operation).ok());
  // Following a job needs only the user token; stopping or forgetting it needs the admin's.
  google::longrunning::Operation seen;
  EXPECT_TRUE(client_->Get(operation.name(), &seen).ok());
  EXPECT_EQ(client_->Cancel(operation.name()).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(client_->Delete(operation.name()).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(admin.Cancel(operation.name()).ok());
  EXPECT_TRUE(client_->AwaitDone(operation.name()).done());
}

}  // namespace
}  // namespace ghost::testing
