// The device seam (engine/backend/backend.h): choosing a backend, KV cache storage from it, and
// the forward's refusal of a cache in another device's memory.
#include "engine/backend/backend.h"

#include <memory>
#include <string>
#include <vector>

#include "engine/backend/kv_cache.h"
#include "engine/model/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/cuda/cuda_device.h"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

// Options for a load on CUDA device `index`, set member by member (GCC's
// -Wmissing-field-initializers flags designated initializers that leave members out).
ModelOptions CudaOptions(int index = 0) {
  ModelOptions options;
  options.device = Device::kCuda;
  options.device_index = index;
  return options;
}

using ::testing::HasSubstr;

std::shared_ptr<const Model> LoadTiny() {
  const std::string dir = ghost::testing::MakeTempDir("backend");
  ghost::testing::WriteTinyLlama(dir, ghost::testing::TinyLlamaSpec{});
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

TEST(BackendTest, TheCpuIsTheDefaultAndCudaIsRefusedClearlyWithoutADevice) {
  absl::StatusOr<std::shared_ptr<Backend>> cpu = NewBackend({});
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_EQ((*cpu)->device(), Device::kCpu);

  // A machine with a GPU serves CUDA (tests/engine/cuda_backend_test.cc); elsewhere the error
  // names the device and the way out.
  if (kernels::CudaDeviceCount() > 0) GTEST_SKIP() << "this machine has a CUDA device";
  const absl::StatusOr<std::shared_ptr<Backend>> cuda = NewBackend({.device = Device::kCuda});
  EXPECT_EQ(cuda.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(cuda.status().message(), HasSubstr("cuda:0"));

  const std::string dir = ghost::testing::MakeTempDir("backend-cuda");
  ghost::testing::WriteTinyLlama(dir, ghost::testing::TinyLlamaSpec{});
  const absl::StatusOr<std::shared_ptr<const Model>> on_cuda = Model::Load(dir, CudaOptions());
  EXPECT_EQ(on_cuda.status().code(), absl::StatusCode::kFailedPrecondition);
}

// A cache whose blocks come from the model's backend runs exactly as a session's own.
TEST(BackendTest, ForwardsOverKvStorageFromTheModelsBackend) {
  std::shared_ptr<const Model> model = LoadTiny();
  ASSERT_NE(model, nullptr);
  const KvCacheShape shape = KvCacheShapeOf(model->config());
  const KvDtype dtype = model->default_kv_dtype();
  absl::StatusOr<std::unique_ptr<KvStorage>> storage =
      model->backend().NewKvStorage(PagedKvCache::StorageBytes(shape, 4, dtype));
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_EQ((*storage)->device(), Device::kCpu);
  PagedKvCache cache(shape, 4, dtype, *std::move(storage));
  KvBlockTable blocks;
  const std::vector<std::int32_t> tokens = {5, 17, 200, 3, 42};
  ASSERT_TRUE(cache.Resize(blocks, static_cast<int>(tokens.size())));
  std::vector<float> logits;
  const ForwardSequence step{tokens, 0, &blocks, LogitRows::kAll};
  ASSERT_TRUE(model->NewRunner()->Forward({step}, cache, logits).ok());

  std::vector<float> session_logits;
  ASSERT_TRUE(model->NewSession()->Forward(tokens, /*all_logits=*/true, session_logits).ok());
  EXPECT_EQ(logits, session_logits);
}

// Storage that claims to live on a GPU: the CPU backend must not read it.
class OtherDeviceStorage final : public KvStorage {
 public:
  explicit OtherDeviceStorage(std::size_t bytes) : bytes_(bytes) {}
  Device device() const override { return Device::kCuda; }
  std::byte* data() const override { return bytes_.data(); }
  void StoreRow(KvDtype, const float*, std::size_t, std::size_t) override {}

 private:
  mutable std::vector<std::byte> bytes_;
};

TEST(BackendTest, RefusesACacheInAnotherDevicesMemory) {
  std::shared_ptr<const Model> model = LoadTiny();
  ASSERT_NE(model, nullptr);
  const KvCacheShape shape = KvCacheShapeOf(model->config());
  PagedKvCache cache(
      shape, 4, KvDtype::kF32,
      std::make_unique<OtherDeviceStorage>(PagedKvCache::StorageBytes(shape, 4, KvDtype::kF32)));
  KvBlockTable blocks;
  ASSERT_TRUE(cache.Resize(blocks, 2));
  const std::vector<std::int32_t> tokens = {1, 2};
  std::vector<float> logits;
  const absl::Status s =
      model->NewRunner()->Forward({{tokens, 0, &blocks, LogitRows::kLast}}, cache, logits);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("the KV cache is in cuda memory but the model runs on cpu"));
}

}  // namespace
}  // namespace ghost
