// The executor: validates and queues requests on callers' threads; one scheduler thread runs
// continuous batching (scheduler.h). The queue holds all the shared state (request_queue.h).
#include "engine/runtime/executor.h"

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
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
  if (absl::Status s = ValidateForModel(request, model_->config()); !s.ok()) return s;
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
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Executor>> Executor::Create(std::shared_ptr<const Model> model,
                                                           const ExecutorOptions& options) {
  if (model == nullptr) return absl::InvalidArgumentError("Executor needs a model");
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  // The KV pool lives in the model's device memory (host memory on the CPU, reserved and
  // committed as blocks are first written).
  absl::StatusOr<std::unique_ptr<KvStorage>> storage =
      model->backend().NewKvStorage(Scheduler::PoolStorageBytes(*model, options));
  if (!storage.ok()) return storage.status();
  return std::unique_ptr<Executor>(
      new BatchingExecutor(std::move(model), options, *std::move(storage)));
}

}  // namespace ghost
