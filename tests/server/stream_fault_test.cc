// Integration: layer file faults through the real gRPC server, with two models loaded, one of
// them streamed. A corrupted layer file is found by its checksum at load and rebuilt; a layer
// file truncated while the model serves fails that model's requests with INTERNAL naming the
// file (not the server's path), the other model keeps serving, and a reload rebuilds the file.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "ghost/v1/models.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Changes the file in place (same inode), as a failing disk or a stray writer would: the
// streamer's open descriptor sees the change.
void FlipByteInPlace(const std::string& path, std::size_t offset) {
  std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
  file.seekg(static_cast<std::streamoff>(offset));
  const char byte = static_cast<char>(file.get() ^ 0x5a);
  file.seekp(static_cast<std::streamoff>(offset));
  file.put(byte);
}

// ghost-tiny (the default model, resident) and a copy of it, "tiny-b", under one root.
class StreamFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = FreshTempDir("stream_fault");
    for (const char* name : {"ghost-tiny", "tiny-b"}) {
      fs::copy(std::string(GHOST_SOURCE_DIR) + "/models/ghost-tiny", root_ + "/" + name,
               fs::copy_options::recursive);
    }
    server::ServerOptions options = TestServerOptions();
    options.model_roots = {root_};
    registry_dir_ = options.registry_dir;
    data_dir_ = options.data_dir;
    server_ = StartTestServer(options);
    ASSERT_NE(server_, nullptr);
    auto channel = ChannelTo(server_->port());
    models_ = ghost::v1::Models::NewStub(channel);
    inference_ = ghost::v1::Inference::NewStub(channel);

    ghost::v1::ImportModelRequest import;
    import.set_name("b");
    import.set_path("tiny-b");
    ghost::v1::Model model;
    ASSERT_TRUE(models_->ImportModel(ContextWithToken("").get(), import, &model).ok());
    ghost::v1::LoadModelRequest load;
    load.set_name("b");
    ASSERT_TRUE(models_->LoadModel(ContextWithToken("").get(), load, &model).ok());
    // Half the weights (2 slots take most of it): most layers stream, more of them than there
    // are slots, so a step reads layers after the next step's first S-1 were copied ahead.
    budget_ = model.resident_weight_bytes() / 2;
    const grpc::Status loaded = LoadStreamed();
    ASSERT_TRUE(loaded.ok()) << loaded.error_message();
    ASSERT_GT(streamed_.streamed_layers(), options.stream_slots);

    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(registry_dir_ + "/layer-cache")) {
      if (entry.path().extension() == ".layers") files.push_back(entry.path());
    }
    ASSERT_EQ(files.size(), 1u);
    layer_file_ = files[0].string();
    good_bytes_ = ReadAll(layer_file_);
    resident_ = CollectStream(*inference_, GreedyRequest("ghost-tiny", 6));
    ASSERT_TRUE(resident_.status.ok()) << resident_.status.error_message();
  }

  void TearDown() override {
    server_.reset();
    // The models' copies and the layer file: do not let them pile up in /tmp.
    for (const std::string& dir : {root_, registry_dir_, data_dir_}) fs::remove_all(dir);
  }

  grpc::Status LoadStreamed() {
    ghost::v1::LoadModelRequest load;
    load.set_name("b");
    load.set_weight_budget_bytes(budget_);
    return models_->LoadModel(ContextWithToken("").get(), load, &streamed_);
  }

  // "b" generates exactly what the resident ghost-tiny generates.
  void ExpectStreamedServes() {
    const StreamResult streamed = CollectStream(*inference_, GreedyRequest("b", 6));
    ASSERT_TRUE(streamed.status.ok()) << streamed.status.error_message();
    EXPECT_EQ(streamed.token_ids, resident_.token_ids);
  }

  std::string root_;
  std::string registry_dir_;
  std::string data_dir_;
  std::unique_ptr<server::GhostServer> server_;
  std::unique_ptr<ghost::v1::Models::Stub> models_;
  std::unique_ptr<ghost::v1::Inference::Stub> inference_;
  std::int64_t budget_ = 0;
  ghost::v1::Model streamed_;
  std::string layer_file_;
  std::string good_bytes_;
  StreamResult resident_;
};

TEST_F(StreamFaultTest, ACorruptedLayerFileIsFoundAtLoadAndRebuilt) {
  ExpectStreamedServes();
  // One byte of the last layer (past the header's block) goes bad while the model is unloaded.
  ghost::v1::UnloadModelRequest unload;
  unload.set_name("b");
  ghost::v1::Model model;
  ASSERT_TRUE(models_->UnloadModel(ContextWithToken("").get(), unload, &model).ok());
  FlipByteInPlace(layer_file_, good_bytes_.size() - 8192);
  ASSERT_NE(ReadAll(layer_file_), good_bytes_);

  const grpc::Status reload = LoadStreamed();
  ASSERT_TRUE(reload.ok()) << reload.error_message();
  EXPECT_EQ(ReadAll(layer_file_), good_bytes_);  // rewritten from the model's own files
  ExpectStreamedServes();
}

TEST_F(StreamFaultTest, ATruncatedLayerFileFailsThatModelsRequestsWhileTheOtherServes) {
  ExpectStreamedServes();
  // Between two requests (the copy worker has read at most the next step's first S-1 layers),
  // the file loses every layer: the next step's later reads come up short.
  ASSERT_EQ(truncate(layer_file_.c_str(), 4096), 0);

  const StreamResult failed = CollectStream(*inference_, GreedyRequest("b", 6));
  EXPECT_EQ(failed.status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(failed.status.error_message(), HasSubstr(fs::path(layer_file_).filename().string()));
  EXPECT_THAT(failed.status.error_message(), HasSubstr("layer file"));
  EXPECT_THAT(failed.status.error_message(), Not(HasSubstr(registry_dir_)));

  // The other model is not affected, and "b" keeps failing, not hanging, while its file is bad.
  const StreamResult other = CollectStream(*inference_, GreedyRequest("ghost-tiny", 6));
  ASSERT_TRUE(other.status.ok()) << other.status.error_message();
  EXPECT_EQ(other.token_ids, resident_.token_ids);
  EXPECT_EQ(CollectStream(*inference_, GreedyRequest("b", 2)).status.error_code(),
            grpc::StatusCode::INTERNAL);

  // Reloading checks the file, finds it truncated and rebuilds it.
  const grpc::Status reload = LoadStreamed();
  ASSERT_TRUE(reload.ok()) << reload.error_message();
  EXPECT_EQ(ReadAll(layer_file_), good_bytes_);
  ExpectStreamedServes();
}

}  // namespace
}  // namespace ghost::testing
