// The engine's public API for one loaded model: enqueue a request and get an id, receive its
// chunks through a sink, cancel by id, shut down. One scheduler thread runs the model with
// continuous batching over a paged KV cache (scheduler.h).
#ifndef GHOST_ENGINE_RUNTIME_EXECUTOR_H_
#define GHOST_ENGINE_RUNTIME_EXECUTOR_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/model/model.h"
#include "engine/runtime/request.h"

namespace ghost {

struct ExecutorOptions {
  // Requests waiting beyond the running batch's free slots: a burst is admitted into every free
  // slot plus this many, and Enqueue answers RESOURCE_EXHAUSTED past that.
  int max_queued_requests = 64;
  // Requests in the running batch at once.
  int max_batch_size = 32;
  // Tokens one forward step may run: every running request's decode token, then prompt
  // chunks. Long prompts prefill over several steps, alongside the decoding requests. At least
  // max_batch_size, so that every running request decodes in every step.
  int max_step_tokens = 256;
  // Memory of the paged KV cache, the whole budget: the pool holds the blocks that fit in it and
  // no more, whatever the model's context length says. The context served is the model's or
  // the pool's token capacity, whichever is smaller (Executor::context_tokens), so a request
  // that is accepted fits the pool alone. A budget that holds no block fails Create.
  int kv_cache_mib = 256;
  // How the cache stores keys and values; unset: the model's default_kv_dtype() (bf16 unless
  // the weights are fp32). bf16 fits twice the positions in kv_cache_mib.
  std::optional<KvDtype> kv_cache_dtype;
  // Batching for a model that streams layers (Model::layer_streamer): a streamed step reads
  // every streamed layer whatever its batch, so a step taken for one request that a burst's
  // others then wait out costs a whole pass over the streamed weights. When such a model's
  // running batch is empty, the scheduler, woken by an arrival, waits up to this long for
  // max_batch_size requests before it steps (it steps at once when that many wait, or when
  // the executor shuts down). A busy batch never waits: arrivals during a step join the next one.
  // Resident models never wait. Zero: no wait.
  absl::Duration stream_gather_window = absl::Milliseconds(20);

  // INVALID_ARGUMENT naming the field and the allowed range.
  absl::Status Validate() const;
};

// A snapshot for metrics; the fields are read one by one, not atomically together.
struct ExecutorStats {
  int num_running = 0;
  int num_waiting = 0;
  int kv_blocks_total = 0;  // blocks of PagedKvCache::kBlockTokens positions
  int kv_blocks_in_use = 0;
  double kv_cache_usage = 0.0;          // kv_blocks_in_use / kv_blocks_total
  std::int64_t num_preemptions = 0;     // running requests evicted to make room, since Create
  MlpActivity mlp_activity;             // gated MLP activations since Create
  std::int64_t num_steps = 0;           // batched forward steps run, since Create
  std::int64_t num_step_sequences = 0;  // the requests those steps carried, summed over steps
};

class Executor {
 public:
  // Starts the scheduler thread. The model must outlive the executor (it is shared).
  // INVALID_ARGUMENT for invalid options; RESOURCE_EXHAUSTED, naming the numbers, when
  // kv_cache_mib holds no block of the model's cache or its memory cannot be allocated.
  static absl::StatusOr<std::unique_ptr<Executor>> Create(std::shared_ptr<const Model> model,
                                                          const ExecutorOptions& options);
  virtual ~Executor() = default;

  // Validates the request (ValidateForModel in request_defaults.h; INVALID_ARGUMENT: empty
  // prompt, a token id outside the vocabulary, prompt + max_new_tokens beyond context_tokens(),
  // bad sampling values; a defaulted max_new_tokens is first shortened to the room left), queues it
  // (RESOURCE_EXHAUSTED when full, UNAVAILABLE after Shutdown) and returns its id. On success the
  // sink will receive exactly one final chunk; the first chunk carries the request's queue time.
  [[nodiscard]] virtual absl::StatusOr<RequestId> Enqueue(GenerationRequest request,
                                                          ChunkSink sink) = 0;
  // Stops the request at the next step, freeing its KV blocks; its sink gets a final chunk
  // with kCancelled. Unknown or finished ids are ignored.
  virtual void Cancel(RequestId id) = 0;
  // Refuses new requests, cancels queued and running ones (each gets its final chunk), joins
  // the scheduler thread. Idempotent; the destructor calls it.
  virtual void Shutdown() = 0;

  // The longest sequence (prompt + new tokens) served: the model's context length, or the KV
  // pool's token capacity where kv_cache_mib holds fewer positions.
  virtual int context_tokens() const = 0;
  // Requests in the running batch / waiting in the queue (preempted ones included).
  virtual int num_running() const = 0;
  virtual int num_waiting() const = 0;
  // Fraction of the KV cache's blocks in use, in [0, 1] (ghost_kv_cache_usage_ratio).
  virtual double kv_cache_usage() const = 0;
  virtual ExecutorStats stats() const = 0;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_RUNTIME_EXECUTOR_H_
