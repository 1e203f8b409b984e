// The CPU backend's side of the KV cache: its host storage, the rotary embedding and key/value
// writes of a step, and paged attention over the cached blocks in place.
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/backend/cpu/cpu_activation.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/huge_page_allocator.h"
#include "kernels/cpu/kv_dtype.h"

namespace ghost {
namespace {

kernels::KvDtype KernelDtype(KvDtype dtype) {
  switch (dtype) {
    case KvDtype::kF32:
      return kernels::KvDtype::kF32;
    case KvDtype::kBf16:
      return kernels::KvDtype::kBf16;
  }
  return kernels::KvDtype::kF32;
}

class HostKvStorage final : public KvStorage {
 public:
  explicit HostKvStorage(std::size_t bytes)
      : bytes_(bytes),
        // Not written here: untouched pages of a large pool cost nothing.
        data_(static_cast<std::byte*>(kernels::AllocateHugePages(bytes))) {}
  HostKvStorage(const HostKvStorage&) = delete;
  HostKvStorage& operator=(const HostKvStorage&) = delete;
  ~HostKvStorage() override { kernels::FreeHugePages(data_, bytes_); }

  Device device() const override { return Device::kCpu; }
  std::byte* data() const override { return data_; }
  void StoreRow(KvDtype dtype, const float* values, std::size_t count,
                std::size_t offset) override {
    kernels::StoreKvRow(KernelDtype(dtype), values, count, data_ + offset);
  }

 private:
  const std::size_t bytes_;
  std::byte* const data_;
};

// One sequence's cached blocks of the layer being attended. Per thread: a backend serves every
// runner of a model.
struct SequenceBlocks {
  std::vector<const void*> keys, values;
};
thread_local std::vector<SequenceBlocks> sequence_blocks;

}  // namespace

std::unique_ptr<KvStorage> NewHostKvStorage(std::size_t bytes) {
  return std::make_unique<HostKvStorage>(bytes);
}

absl::StatusOr<std::unique_ptr<KvStorage>> CpuBackend::NewKvStorage(std::size_t bytes) {
  return NewHostKvStorage(bytes);
}

void CpuBackend::RopeTables(absl::Span<const double> inv_freq,
                            absl::Span<const StepSequence> sequences, Activation& cos,
                            Activation& sin) {
  std::size_t n = 0;
  for (const StepSequence& sequence : sequences) n += sequence.num_tokens;
  const std::size_t half = inv_freq.size();
  CpuActivation& c = Host(cos);
  CpuActivation& s = Host(sin);
  c.Resize(n, half);
  s.Resize(n, half);
  for (const StepSequence& sequence : sequences) {
    for (std::size_t t = 0; t < sequence.num_tokens; ++t) {
      const std::size_t row = sequence.first_row + t;
      const int position = sequence.start + static_cast<int>(t);
      for (std::size_t i = 0; i < half; ++i) {
        const double angle = position * inv_freq[i];
        c.row(row)[i] = static_cast<float>(std::cos(angle));
        s.row(row)[i] = static_cast<float>(std::sin(angle));
      }
    }
  }
}

void CpuBackend::RopeAndStoreKv(int layer, const AttentionShape& shape, const Activation& cos,
                                const Activation& sin, absl::Span<const StepSequence> sequences,
                                Activation& q, Activation& k, const Activation& v,
                                PagedKvCache& cache) {
  constexpr int kBlockTokens = PagedKvCache::kBlockTokens;
  CpuActivation& queries = Host(q);
  CpuActivation& keys = Host(k);
  for (const StepSequence& sequence : sequences) {
    for (std::size_t t = 0; t < sequence.num_tokens; ++t) {
      const std::size_t row = sequence.first_row + t;
      const int position = sequence.start + static_cast<int>(t);
      kernels::RopeQk(queries.row(row), shape.num_heads, keys.row(row), shape.num_kv_heads,
                      shape.head_dim, Host(cos).row(row), Host(sin).row(row));
      cache.Write(layer, sequence.blocks[position / kBlockTokens], position % kBlockTokens,
                  keys.row(row), Host(v).row(row));
    }
  }
}

void CpuBackend::Attention(int layer, const AttentionShape& shape, const Activation& q,
                           absl::Span<const StepSequence> sequences, const PagedKvCache& cache,
                           Activation& out) {
  Host(out).Resize(q.rows(), q.cols());
  if (sequence_blocks.size() < sequences.size()) sequence_blocks.resize(sequences.size());
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    const StepSequence& sequence = sequences[i];
    SequenceBlocks& blocks = sequence_blocks[i];
    blocks.keys.clear();
    blocks.values.clear();
    const int used_blocks =
        PagedKvCache::BlocksForTokens(sequence.start + static_cast<int>(sequence.num_tokens));
    for (int b = 0; b < used_blocks; ++b) {
      blocks.keys.push_back(cache.keys(layer, sequence.blocks[b]));
      blocks.values.push_back(cache.values(layer, sequence.blocks[b]));
    }
  }
  // One kernel call for the whole step: it splits the work of every sequence (tiles of
  // positions, ranges of a long decode's keys) across the pool together.
  thread_local std::vector<kernels::AttentionSequence> batch;
  batch.clear();
  const CpuActivation& queries = Host(q);
  CpuActivation& outputs = Host(out);
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    const StepSequence& sequence = sequences[i];
    batch.push_back({queries.row(sequence.first_row),
                     sequence.num_tokens,
                     static_cast<std::size_t>(sequence.start),
                     {sequence_blocks[i].keys.data(), sequence_blocks[i].values.data(),
                      PagedKvCache::kBlockTokens, KernelDtype(cache.dtype())},
                     outputs.row(sequence.first_row)});
  }
  kernels::PagedAttentionBatch(
      {static_cast<std::size_t>(shape.num_heads), static_cast<std::size_t>(shape.num_kv_heads),
       static_cast<std::size_t>(shape.head_dim), static_cast<std::size_t>(shape.sliding_window)},
      batch.data(), batch.size());
}

}  // namespace ghost
