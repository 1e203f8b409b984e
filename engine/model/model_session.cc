// ModelSession on the batched path: a batch of one sequence over a private KV pool that holds
// the session's positions (the context, or the caller's window), so there is a single forward
// implementation.
#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/backend/kv_cache.h"
#include "engine/model/model.h"

namespace ghost {
namespace {

class PagedSession final : public ModelSession {
 public:
  // `storage`: StorageBytes for max_tokens positions (clamped to the model's context), from the
  // model's backend.
  PagedSession(std::unique_ptr<ModelRunner> runner, const ModelConfig& config, KvDtype kv_dtype,
               int max_tokens, std::unique_ptr<KvStorage> storage)
      : runner_(std::move(runner)),
        context_(std::clamp(max_tokens, 1, config.max_position_embeddings)),
        cache_(KvCacheShapeOf(config), PagedKvCache::BlocksForTokens(context_), kv_dtype,
               std::move(storage)) {}

  absl::Status Forward(absl::Span<const std::int32_t> tokens, bool all_logits,
                       std::vector<float>& logits) override {
    const std::int64_t total = std::int64_t{num_tokens_} + static_cast<std::int64_t>(tokens.size());
    if (total > context_) return ContextOverflowError(total, context_);
    // Always succeeds: the pool holds context_ positions (and the runner checks the table).
    (void)cache_.Resize(table_, static_cast<int>(total));
    const ForwardSequence sequence{tokens, num_tokens_, &table_,
                                   all_logits ? LogitRows::kAll : LogitRows::kLast};
    if (absl::Status s = runner_->Forward({sequence}, cache_, logits); !s.ok()) return s;
    num_tokens_ = static_cast<int>(total);
    return absl::OkStatus();
  }
  int num_tokens() const override { return num_tokens_; }
  MlpActivity mlp_activity() const override { return runner_->mlp_activity(); }

 private:
  std::unique_ptr<ModelRunner> runner_;
  const int context_;
  PagedKvCache cache_;  // declared before table_: the table returns its blocks on destruction
  KvBlockTable table_;
  int num_tokens_ = 0;
};

// A session whose cache could not be allocated: every Forward reports why.
class FailedSession final : public ModelSession {
 public:
  explicit FailedSession(absl::Status status) : status_(std::move(status)) {}
  absl::Status Forward(absl::Span<const std::int32_t>, bool, std::vector<float>&) override {
    return status_;
  }
  int num_tokens() const override { return 0; }
  MlpActivity mlp_activity() const override { return {}; }

 private:
  const absl::Status status_;
};

}  // namespace

absl::Status ContextOverflowError(std::int64_t tokens, int context) {
  return absl::InvalidArgumentError(absl::StrCat(
      "sequence of ", tokens, " tokens exceeds the model's context of ", context, " tokens"));
}

KvDtype Model::default_kv_dtype() const {
  return summary().dtype == "f32" ? KvDtype::kF32 : KvDtype::kBf16;
}

std::unique_ptr<ModelSession> Model::NewSession() const { return NewSession(default_kv_dtype()); }

std::unique_ptr<ModelSession> Model::NewSession(KvDtype kv_dtype) const {
  return NewSession(kv_dtype, config().max_position_embeddings);
}

std::unique_ptr<ModelSession> Model::NewSession(KvDtype kv_dtype, int max_tokens) const {
  max_tokens = std::clamp(max_tokens, 1, config().max_position_embeddings);
  const KvCacheShape shape = KvCacheShapeOf(config());
  const int blocks = PagedKvCache::BlocksForTokens(max_tokens);
  // Host memory on the CPU (reserved, committed as blocks are written); the device's elsewhere.
  absl::StatusOr<std::unique_ptr<KvStorage>> storage =
      backend().NewKvStorage(PagedKvCache::StorageBytes(shape, blocks, kv_dtype));
  if (!storage.ok()) return std::make_unique<FailedSession>(storage.status());
  return std::make_unique<PagedSession>(NewRunner(), config(), kv_dtype, max_tokens,
                                        *std::move(storage));
}

}  // namespace ghost
