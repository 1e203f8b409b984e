// The CUDA backend's side of the KV cache: device storage, the step's rope tables, the rotary
// embedding + key/value store, and paged attention over the blocks in place.
#include <cmath>
#include <cstring>
#include <utility>

#include "engine/backend/cuda/cuda_backend_impl.h"

namespace ghost::cuda_backend {
namespace {

std::uint16_t ToBf16Bits(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest even
  return static_cast<std::uint16_t>(bits >> 16);
}

class CudaKvStorage final : public KvStorage {
 public:
  CudaKvStorage(CudaBackend& backend, kc::DeviceBuffer buffer)
      : backend_(backend), buffer_(std::move(buffer)) {}
  Device device() const override { return Device::kCuda; }
  std::byte* data() const override { return buffer_.as<std::byte>(); }
  // PagedKvCache::Write (the CUDA backend's own ops store through RopeAndStoreKv instead): one
  // synchronous copy of the converted row; an error is reported like any op's.
  void StoreRow(KvDtype dtype, const float* values, std::size_t count,
                std::size_t offset) override {
    Lane* lane = backend_.Begin();
    if (lane == nullptr) return;
    std::vector<std::uint16_t> bf16;
    const void* source = values;
    std::size_t bytes = count * sizeof(float);
    if (dtype == KvDtype::kBf16) {
      bf16.resize(count);
      for (std::size_t i = 0; i < count; ++i) bf16[i] = ToBf16Bits(values[i]);
      source = bf16.data();
      bytes = count * sizeof(std::uint16_t);
    }
    lane->Record(kc::CopyToDevice(data() + offset, source, bytes, lane->handle()));
    lane->Record(lane->stream.Synchronize());
  }

 private:
  CudaBackend& backend_;  // outlives the storage: the model holds both
  kc::DeviceBuffer buffer_;
};

}  // namespace

kc::DeviceKvLayer KvLayerOf(const PagedKvCache& cache, int layer) {
  kc::DeviceKvLayer view;
  view.keys = const_cast<void*>(cache.keys(layer, 0));
  view.values = const_cast<void*>(cache.values(layer, 0));
  view.block_tokens = PagedKvCache::kBlockTokens;
  view.bf16 = cache.dtype() == KvDtype::kBf16;
  // [layer][block][K|V][rows]: one block's keys to the next's skips its values.
  view.block_stride =
      2 * PagedKvCache::kBlockTokens * cache.shape().kv_dim() * KvDtypeBytes(cache.dtype());
  return view;
}

absl::StatusOr<std::unique_ptr<KvStorage>> CudaBackend::NewKvStorage(std::size_t bytes) {
  if (absl::Status s = kc::SetDevice(device_); !s.ok()) return s;
  absl::StatusOr<kc::DeviceBuffer> buffer = kc::DeviceBuffer::Allocate(bytes);
  if (!buffer.ok()) return buffer.status();
  return std::make_unique<CudaKvStorage>(*this, *std::move(buffer));
}

absl::Status CudaBackend::UploadStep(Lane& lane, absl::Span<const StepSequence> sequences) {
  std::vector<kc::StepToken> tokens;
  std::vector<std::int32_t> blocks;
  for (const StepSequence& sequence : sequences) {
    const auto offset = static_cast<std::int32_t>(blocks.size());
    blocks.insert(blocks.end(), sequence.blocks.begin(), sequence.blocks.end());
    tokens.resize(std::max(tokens.size(), sequence.first_row + sequence.num_tokens));
    for (std::size_t t = 0; t < sequence.num_tokens; ++t) {
      tokens[sequence.first_row + t] = {sequence.start + static_cast<std::int32_t>(t), offset};
    }
  }
  const auto same_tokens = [&] {
    if (tokens.size() != lane.uploaded_tokens.size()) return false;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i].position != lane.uploaded_tokens[i].position ||
          tokens[i].blocks_offset != lane.uploaded_tokens[i].blocks_offset) {
        return false;
      }
    }
    return true;
  };
  if (same_tokens() && blocks == lane.uploaded_blocks) return absl::OkStatus();
  lane.uploaded_tokens.clear();  // stays empty unless the upload completes
  lane.uploaded_blocks.clear();
  if (absl::Status s = kc::Reserve(lane.step_tokens, tokens.size() * sizeof(kc::StepToken));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = kc::Reserve(lane.step_blocks, blocks.size() * sizeof(std::int32_t));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = kc::CopyToDevice(lane.step_tokens.data(), tokens.data(),
                                        tokens.size() * sizeof(kc::StepToken), lane.handle());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = kc::CopyToDevice(lane.step_blocks.data(), blocks.data(),
                                        blocks.size() * sizeof(std::int32_t), lane.handle());
      !s.ok()) {
    return s;
  }
  lane.uploaded_tokens = std::move(tokens);
  lane.uploaded_blocks = std::move(blocks);
  return absl::OkStatus();
}

void CudaBackend::RopeTables(absl::Span<const double> inv_freq,
                             absl::Span<const StepSequence> sequences, Activation& cos,
                             Activation& sin) {
  Lane* lane = Begin();
  if (lane == nullptr) return;
  std::size_t n = 0;
  for (const StepSequence& sequence : sequences) n += sequence.num_tokens;
  const std::size_t half = inv_freq.size();
  // In double on the host, once per step, exactly as the CPU backend does.
  std::vector<float> host_cos(n * half), host_sin(n * half);
  for (const StepSequence& sequence : sequences) {
    for (std::size_t t = 0; t < sequence.num_tokens; ++t) {
      const std::size_t row = sequence.first_row + t;
      const int position = sequence.start + static_cast<int>(t);
      for (std::size_t i = 0; i < half; ++i) {
        const double angle = position * inv_freq[i];
        host_cos[row * half + i] = static_cast<float>(std::cos(angle));
        host_sin[row * half + i] = static_cast<float>(std::sin(angle));
      }
    }
  }
  lane->Record(Dev(cos).Resize(n, half));
  lane->Record(Dev(sin).Resize(n, half));
  if (!lane->error.ok()) return;
  lane->Record(
      kc::CopyToDevice(Dev(cos).data(), host_cos.data(), n * half * sizeof(float), lane->handle()));
  lane->Record(
      kc::CopyToDevice(Dev(sin).data(), host_sin.data(), n * half * sizeof(float), lane->handle()));
}

namespace {

kc::AttentionHeads HeadsOf(const AttentionShape& shape) {
  return {shape.num_heads, shape.num_kv_heads, shape.head_dim, shape.sliding_window};
}

}  // namespace

void CudaBackend::RopeAndStoreKv(int layer, const AttentionShape& shape, const Activation& cos,
                                 const Activation& sin, absl::Span<const StepSequence> sequences,
                                 Activation& q, Activation& k, const Activation& v,
                                 PagedKvCache& cache) {
  Lane* lane = Begin();
  if (lane == nullptr) return;
  lane->Record(UploadStep(*lane, sequences));
  if (!lane->error.ok()) return;
  lane->Record(kc::RopeAndStoreKv(
      HeadsOf(shape), Dev(cos).data(), Dev(sin).data(), lane->step_tokens.as<kc::StepToken>(),
      lane->step_blocks.as<std::int32_t>(), q.rows(), Dev(q).data(), Dev(k).data(), Dev(v).data(),
      KvLayerOf(cache, layer), lane->handle()));
}

void CudaBackend::Attention(int layer, const AttentionShape& shape, const Activation& q,
                            absl::Span<const StepSequence> sequences, const PagedKvCache& cache,
                            Activation& out) {
  Lane* lane = Begin();
  if (lane == nullptr) return;
  lane->Record(Dev(out).Resize(q.rows(), q.cols()));
  lane->Record(UploadStep(*lane, sequences));
  if (!lane->error.ok()) return;
  lane->Record(kc::PagedAttention(HeadsOf(shape), Dev(q).data(),
                                  lane->step_tokens.as<kc::StepToken>(),
                                  lane->step_blocks.as<std::int32_t>(), q.rows(),
                                  KvLayerOf(cache, layer), Dev(out).data(), lane->handle()));
}

}  // namespace ghost::cuda_backend
