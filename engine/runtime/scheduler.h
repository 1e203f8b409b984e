// Continuous batching: the scheduler thread's loop. It alone owns the running batch, the paged
// KV cache and the model runner; it talks to callers' threads only through the RequestQueue.
// Each step it
//   1. delivers the final chunks of cancelled requests and frees their blocks;
//   2. gives every running request its next tokens, decode tokens first, then prompt chunks,
//      within max_step_tokens; a request that needs a block when none is free preempts the
//      most recently admitted one (its blocks are freed, it returns to the head of the queue
//      and later recomputes its prompt + generated tokens; its stream just continues);
//   3. admits waiting requests in FIFO order while max_batch_size, the token budget and free
//      blocks for their whole prompt allow (not in a step that preempted, to avoid thrashing);
//   4. runs one batched forward, samples each request that completed its pending tokens with
//      its own sampler, and pushes the chunks to the sinks.
// Layer streaming (Model::layer_streamer): a streamed step copies every streamed layer once,
// whether it carries 1 token or 64, so the fewer steps the better. Step 3 admits every waiting
// request that max_batch_size, max_step_tokens and the free blocks allow into the next step, so
// requests arriving during a step share the next pass over the streamed layers. What is left is
// the idle scheduler: woken by the first request of a burst, it would step for that one alone
// while the others wait a whole streamed step. So with the batch empty, a streamed model's
// scheduler first waits up to ExecutorOptions::stream_gather_window for max_batch_size requests
// (ending at once when that many wait or the queue closes). A failed read fails that step's
// requests with the transport's INTERNAL error (naming the layer file), and the next step
// streams again.
#ifndef GHOST_ENGINE_RUNTIME_SCHEDULER_H_
#define GHOST_ENGINE_RUNTIME_SCHEDULER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/backend/kv_cache.h"
#include "engine/model/model.h"
#include "engine/runtime/executor.h"
#include "engine/runtime/request_queue.h"

namespace ghost {

class Scheduler {
 public:
  // Blocks of the KV pool `options` give `model` (its kv_cache_mib budget; 0 when not one fits)
  // and the storage dtype they use.
  static int PoolBlocks(const Model& model, const ExecutorOptions& options);
  static KvDtype PoolDtype(const Model& model, const ExecutorOptions& options);
  // Bytes of KV storage the pool of a scheduler for `model` takes under `options`.
  static std::size_t PoolStorageBytes(const Model& model, const ExecutorOptions& options);

  // `options` must be valid and give the pool at least one block (PoolBlocks); `queue` must
  // outlive the scheduler. `kv_storage` holds the KV pool: PoolStorageBytes(*model, options)
  // bytes from the model's backend. Throws std::bad_alloc when the runner's buffers cannot be
  // allocated (Executor::Create turns that into RESOURCE_EXHAUSTED).
  Scheduler(std::shared_ptr<const Model> model, const ExecutorOptions& options, RequestQueue& queue,
            std::unique_ptr<KvStorage> kv_storage);

  // The thread's body: steps until the queue is closed, then cancels the running requests.
  // Every request taken from the queue gets exactly one final chunk.
  void Run();

  // Any thread.
  int kv_blocks_total() const { return kv_blocks_total_; }
  // The longest sequence (prompt + generated tokens) served: the model's context, or fewer when
  // the pool holds fewer positions, so that a request that is accepted fits the pool alone.
  int context_tokens() const { return context_tokens_; }
  int kv_blocks_in_use() const { return kv_blocks_in_use_.load(std::memory_order_relaxed); }
  std::int64_t num_preemptions() const { return num_preemptions_.load(std::memory_order_relaxed); }
  std::int64_t num_steps() const { return num_steps_.load(std::memory_order_relaxed); }
  std::int64_t num_step_sequences() const {
    return num_step_sequences_.load(std::memory_order_relaxed);
  }
  // The runner's gated-MLP counts since start, as of the last step.
  MlpActivity mlp_activity() const {
    return {mlp_active_.load(std::memory_order_relaxed),
            mlp_gated_.load(std::memory_order_relaxed)};
  }

 private:
  void CancelWaiting(std::vector<std::unique_ptr<PendingRequest>> cancelled);
  void CancelRunning(const std::vector<RequestId>& ids);
  // Steps 2 and 3: fills batch_ and batch_requests_.
  void Plan();
  void Admit(int& budget);
  // Frees the blocks of the most recently admitted running request and requeues it.
  void PreemptNewest();
  // Step 4.
  void RunBatch();
  // Sends `chunk` (the queue time goes with a request's first chunk).
  void Deliver(PendingRequest& request, GenerationChunk chunk);
  // Delivers the final chunk after checking the state transition it implies.
  void Finish(PendingRequest& request, GenerationChunk chunk, RequestState next);
  // Drops finished requests (nulls in running_), returning their blocks.
  void RemoveFinished();
  void Transition(PendingRequest& request, RequestState next);
  void PublishStats();

  std::shared_ptr<const Model> model_;
  const ExecutorOptions options_;
  RequestQueue& queue_;
  std::unique_ptr<ModelRunner> runner_;
  PagedKvCache cache_;  // declared before running_: tables return their blocks on destruction
  const int kv_blocks_total_;
  const int context_tokens_;
  std::atomic<int> kv_blocks_in_use_{0};
  std::atomic<std::int64_t> num_preemptions_{0};
  std::atomic<std::int64_t> num_steps_{0};
  std::atomic<std::int64_t> num_step_sequences_{0};
  std::atomic<std::int64_t> mlp_active_{0};
  std::atomic<std::int64_t> mlp_gated_{0};
  // In admission order: the back is the most recently admitted (the preemption victim).
  std::vector<std::unique_ptr<PendingRequest>> running_;
  // This step's forward entries and their requests, in the same order; reused across steps.
  std::vector<ForwardSequence> batch_;
  std::vector<PendingRequest*> batch_requests_;
  std::vector<float> logits_;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_RUNTIME_SCHEDULER_H_
