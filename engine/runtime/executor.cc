// The executor: validates and queues requests on callers' threads; one scheduler thread runs
// continuous batching (scheduler.h). The queue holds all the shared state (request_queue.h).
#include "engine/runtime/executor.h"

#include <algorithm>
#include <atomic>
#include <new>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "engine/runtime/request_defaults.h"
#include "engine/runtime/request_queue.h"
#include "engine/runtime/scheduler.h"

namespace ghost {
namespace {

class BatchingExecutor final : public Executor {
 public:
  BatchingExecutor(std::shared_ptr<const Model> model, const ExecutorOptions& options,
                   std::unique_ptr<KvStorage> kv_storage)
      : model_(std::move(model)),
        queue_(options.max_queued_requests, options.max_batch_size),
        scheduler_(model_, options, queue_, std::move(kv_storage)) {
    thread_ = std::thread([this] { scheduler_.Run(); });
    scheduler_thread_ = thread_.get_id();
  }
  ~BatchingExecutor() override { Shutdown(); }

  absl::StatusOr<RequestId> Enqueue(GenerationRequest request, ChunkSink sink) override;
  void Cancel(RequestId id) override { queue_.Cancel(id); }
  void Shutdown() override;
  int context_tokens() const override { return scheduler_.context_tokens(); }
  int num_running() const override { return queue_.num_running(); }
  int num_waiting() const override { return queue_.num_waiting(); }
  double kv_cache_usage() const override {
    return static_cast<double>(scheduler_.kv_blocks_in_use()) / scheduler_.kv_blocks_total();
  }
  ExecutorStats stats() const override;

 private:
  std::shared_ptr<const Model> model_;
  RequestQueue queue_;
  Scheduler scheduler_;
  std::atomic<RequestId> next_id_{1};
  absl::Mutex shutdown_mutex_;  // serializes concurrent Shutdown() calls around the join
  std::thread thread_;
  std::thread::id scheduler_thread_;  // a copy: thread_ changes when joined
};

absl::StatusOr<RequestId> BatchingExecutor::Enqueue(GenerationRequest request, ChunkSink sink) {
  const int context = scheduler_.context_tokens();
  if (request.stopping.max_new_tokens_defaulted) {
    // The default was shortened to the model's context; the pool may hold fewer positions.
    const int room =
        context - static_cast<int>(std::min<std::size_t>(request.prompt_tokens.size(),
                                                         static_cast<std::size_t>(context)));
    request.stopping.max_new_tokens = std::max(1, std::min(request.stopping.max_new_tokens, room));
  }
  if (absl::Status s = ValidateForModel(request, model_->config(), context); !s.ok()) return s;
  if (!sink) return absl::InvalidArgumentError("a chunk sink is required");
  auto pending = std::make_unique<PendingRequest>();
  pending->id = next_id_.fetch_add(1);
  pending->request = std::move(request);
  pending->sink = std::move(sink);
  pending->enqueued_at = absl::Now();
  const RequestId id = pending->id;
  if (absl::Status s = queue_.Push(std::move(pending)); !s.ok()) return s;
  return id;
}

void BatchingExecutor::Shutdown() {
  queue_.Close();
  // From a sink (the scheduler thread itself) the loop ends on its own once the sink returns;
  // taking the mutex there would deadlock with another thread joining under it.
  if (std::this_thread::get_id() == scheduler_thread_) return;
  absl::MutexLock lock(&shutdown_mutex_);
  if (thread_.joinable()) thread_.join();
}

ExecutorStats BatchingExecutor::stats() const {
  ExecutorStats stats;
  stats.num_running = num_running();
  stats.num_waiting = num_waiting();
  stats.kv_blocks_total = scheduler_.kv_blocks_total();
  stats.kv_blocks_in_use = scheduler_.kv_blocks_in_use();
  stats.kv_cache_usage = static_cast<double>(stats.kv_blocks_in_use) / stats.kv_blocks_total;
  stats.num_preemptions = scheduler_.num_preemptions();
  stats.mlp_activity = scheduler_.mlp_activity();
  stats.num_steps = scheduler_.num_steps();
  stats.num_step_sequences = scheduler_.num_step_sequences();
  return stats;
}

}  // namespace

absl::Status ExecutorOptions::Validate() const {
  const auto out_of_range = [](const char* field, const char* allowed, int value) {
    return absl::InvalidArgumentError(absl::StrCat(field, " must be ", allowed, ", got ", value));
  };
  if (max_queued_requests < 0) {
    return out_of_range("max_queued_requests", ">= 0", max_queued_requests);
  }
  if (max_batch_size < 1) return out_of_range("max_batch_size", ">= 1", max_batch_size);
  if (max_step_tokens < max_batch_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_step_tokens must be >= max_batch_size (", max_batch_size,
                     ") so that every running request decodes each step, got ", max_step_tokens));
  }
  if (kv_cache_mib < 1) return out_of_range("kv_cache_mib", ">= 1", kv_cache_mib);
  if (stream_gather_window < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("stream_gather_window must be >= 0, got ",
                                                   absl::FormatDuration(stream_gather_window)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Executor>> Executor::Create(std::shared_ptr<const Model> model,
                                                           const ExecutorOptions& options) {
  if (model == nullptr) return absl::InvalidArgumentError("Executor needs a model");
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  const KvCacheShape shape = KvCacheShapeOf(model->config());
  const KvDtype dtype = Scheduler::PoolDtype(*model, options);
  const int blocks = Scheduler::PoolBlocks(*model, options);
  const std::size_t block_bytes = shape.BlockBytes(dtype);
  if (blocks < 1) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "the KV cache budget (kv_cache_mib = %d MiB) holds no block of this model's cache: one "
        "block of %d positions takes %.1f MiB (%d layers x %d key/value dims, %s)",
        options.kv_cache_mib, PagedKvCache::kBlockTokens, block_bytes / (1024.0 * 1024.0),
        shape.num_layers, shape.kv_dim(), KvDtypeName(dtype)));
  }
  // Allocation failure is an error of this load, never the process's. The KV pool lives in the
  // model's device memory (host memory on the CPU, reserved and committed as blocks are first
  // written).
  const auto exhausted = [&] {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "could not allocate the KV cache: %d blocks of %d bytes (%.1f MiB, kv_cache_mib = %d)",
        blocks, block_bytes, blocks * static_cast<double>(block_bytes) / (1024.0 * 1024.0),
        options.kv_cache_mib));
  };
  try {
    absl::StatusOr<std::unique_ptr<KvStorage>> storage =
        model->backend().NewKvStorage(Scheduler::PoolStorageBytes(*model, options));
    if (!storage.ok()) {
      return storage.status().code() == absl::StatusCode::kResourceExhausted ? exhausted()
                                                                             : storage.status();
    }
    return std::unique_ptr<Executor>(
        new BatchingExecutor(std::move(model), options, *std::move(storage)));
  } catch (const std::bad_alloc&) {
    return exhausted();
  }
}

}  // namespace ghost
