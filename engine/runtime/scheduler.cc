#include "engine/runtime/scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/common/log.h"

namespace ghost {
namespace {

bool IsTerminal(RequestState state) {
  return state == RequestState::kFinished || state == RequestState::kCancelled ||
         state == RequestState::kFailed;
}

}  // namespace

KvDtype Scheduler::PoolDtype(const Model& model, const ExecutorOptions& options) {
  return options.kv_cache_dtype.value_or(model.default_kv_dtype());
}

int Scheduler::PoolBlocks(const Model& model, const ExecutorOptions& options) {
  return PagedKvCache::BlocksForCapacity(KvCacheShapeOf(model.config()), PoolDtype(model, options),
                                         options.kv_cache_mib);
}

Scheduler::Scheduler(std::shared_ptr<const Model> model, const ExecutorOptions& options,
                     RequestQueue& queue, std::unique_ptr<KvStorage> kv_storage)
    : model_(std::move(model)),
      options_(options),
      queue_(queue),
      runner_(model_->NewRunner()),
      cache_(KvCacheShapeOf(model_->config()), PoolBlocks(*model_, options),
             PoolDtype(*model_, options), std::move(kv_storage)),
      kv_blocks_total_(cache_.num_blocks()),
      context_tokens_(std::min(model_->config().max_position_embeddings, cache_.token_capacity())) {
}

std::size_t Scheduler::PoolStorageBytes(const Model& model, const ExecutorOptions& options) {
  return PagedKvCache::StorageBytes(KvCacheShapeOf(model.config()), PoolBlocks(model, options),
                                    PoolDtype(model, options));
}

void Scheduler::Run() {
  while (true) {
    // Block only when idle; while a batch runs, just pick up what happened since the last step.
    RequestQueue::Events events = queue_.TakeEvents(/*wait=*/running_.empty());
    CancelWaiting(std::move(events.cancelled));
    if (events.closed) {
      for (auto& request : running_) {
        Finish(*request, request->sequence->Cancelled(), RequestState::kCancelled);
      }
      RemoveFinished();
      return;
    }
    CancelRunning(events.cancelled_running);
    if (running_.empty() && model_->layer_streamer() != nullptr &&
        options_.stream_gather_window > absl::ZeroDuration() && queue_.num_waiting() > 0) {
      queue_.AwaitWaiting(options_.max_batch_size, options_.stream_gather_window);
    }
    Plan();
    if (!batch_.empty()) RunBatch();
  }
}

void Scheduler::Transition(PendingRequest& request, RequestState next) {
  if (absl::Status s = TransitionRequestState(request.state, next); !s.ok()) {
    LogWarning(absl::StrCat("request ", request.id, ": ", s.message()));
  }
}

void Scheduler::PublishStats() {
  kv_blocks_in_use_.store(cache_.blocks_in_use(), std::memory_order_relaxed);
}

void Scheduler::Deliver(PendingRequest& request, GenerationChunk chunk) {
  if (!request.delivered_any) {
    request.delivered_any = true;
    chunk.queue_time = request.first_admitted_at.value_or(absl::Now()) - request.enqueued_at;
  }
  request.sink(std::move(chunk));
}

void Scheduler::Finish(PendingRequest& request, GenerationChunk chunk, RequestState next) {
  Transition(request, next);
  // Freed before the sink hears of it, so a caller that saw the final chunk sees the blocks free.
  if (request.sequence != nullptr) (void)cache_.Resize(request.sequence->blocks(), 0);
  PublishStats();
  queue_.FinishRunning(request.id);
  Deliver(request, std::move(chunk));
}

void Scheduler::RemoveFinished() {
  std::erase_if(running_, [](const auto& request) { return IsTerminal(request->state); });
}

void Scheduler::CancelWaiting(std::vector<std::unique_ptr<PendingRequest>> cancelled) {
  for (auto& request : cancelled) {
    GenerationChunk chunk;
    if (request->sequence != nullptr) {  // preempted: it has streamed tokens already
      chunk = request->sequence->Cancelled();
    } else {
      chunk.finish_reason = FinishReason::kCancelled;
      chunk.prompt_tokens = static_cast<int>(request->request.prompt_tokens.size());
    }
    Finish(*request, std::move(chunk), RequestState::kCancelled);
  }
}

void Scheduler::CancelRunning(const std::vector<RequestId>& ids) {
  for (RequestId id : ids) {
    const auto it = std::find_if(running_.begin(), running_.end(),
                                 [id](const auto& request) { return request->id == id; });
    if (it == running_.end()) continue;  // preempted since: Requeue cancelled it
    Finish(**it, (*it)->sequence->Cancelled(), RequestState::kCancelled);
  }
  RemoveFinished();
}

void Scheduler::PreemptNewest() {
  std::unique_ptr<PendingRequest> victim = std::move(running_.back());
  running_.pop_back();
  (void)cache_.Resize(victim->sequence->blocks(), 0);
  victim->sequence->Evict();
  Transition(*victim, RequestState::kPreempted);
  num_preemptions_.fetch_add(1, std::memory_order_relaxed);
  queue_.Requeue(std::move(victim));
}

void Scheduler::Plan() {
  batch_.clear();
  batch_requests_.clear();
  int budget = options_.max_step_tokens;
  const auto add = [&](PendingRequest& request, int count) {
    batch_.push_back(request.sequence->NextChunk(count));
    batch_requests_.push_back(&request);
    budget -= count;
  };
  // Decode tokens first: max_step_tokens >= max_batch_size leaves room for all of them. Entries
  // are added oldest first and victims are taken from the newest end, so no victim is in batch_.
  bool preempted = false;
  for (std::size_t i = 0; i < running_.size(); ++i) {
    Sequence& sequence = *running_[i]->sequence;
    if (sequence.num_pending() != 1) continue;
    bool preempted_self = false;
    while (!preempted_self && !cache_.Resize(sequence.blocks(), sequence.num_tokens())) {
      preempted_self = i + 1 == running_.size();
      PreemptNewest();
      preempted = true;
    }
    if (preempted_self) break;  // it was the newest: nothing runs after it
    add(*running_[i], 1);
  }
  // Then prompt chunks of requests admitted earlier; their blocks were reserved at admission.
  for (auto& request : running_) {
    const int pending = request->sequence->num_pending();
    if (pending > 1 && budget > 0) add(*request, std::min(pending, budget));
  }
  // A request just preempted would only be readmitted to be preempted again.
  if (preempted) return;
  while (budget > 0 && static_cast<int>(running_.size()) < options_.max_batch_size) {
    std::unique_ptr<PendingRequest> request = queue_.PopIf([this](const PendingRequest& waiting) {
      const std::size_t tokens = waiting.sequence != nullptr ? waiting.sequence->tokens().size()
                                                             : waiting.request.prompt_tokens.size();
      return cache_.free_blocks() >= PagedKvCache::BlocksForTokens(static_cast<int>(tokens));
    });
    if (request == nullptr) break;
    Transition(*request, RequestState::kRunning);
    if (!request->first_admitted_at) request->first_admitted_at = absl::Now();
    if (request->sequence == nullptr) {
      request->sequence = std::make_unique<Sequence>(*model_, request->request);
    }
    Sequence& sequence = *request->sequence;
    (void)cache_.Resize(sequence.blocks(), sequence.num_tokens());  // PopIf checked the room
    add(*request, std::min(sequence.num_pending(), budget));
    running_.push_back(std::move(request));
  }
  PublishStats();
}

void Scheduler::RunBatch() {
  num_steps_.fetch_add(1, std::memory_order_relaxed);
  num_step_sequences_.fetch_add(static_cast<std::int64_t>(batch_.size()),
                                std::memory_order_relaxed);
  if (absl::Status s = runner_->Forward(batch_, cache_, logits_); !s.ok()) {
    // Nothing was computed; these requests cannot go on.
    for (PendingRequest* request : batch_requests_) {
      Finish(*request, request->sequence->Failed(s), RequestState::kFailed);
    }
    RemoveFinished();
    return;
  }
  mlp_active_.store(runner_->mlp_activity().active, std::memory_order_relaxed);
  mlp_gated_.store(runner_->mlp_activity().total, std::memory_order_relaxed);
  const std::size_t vocab = model_->config().vocab_size;
  std::size_t row = 0;
  for (std::size_t i = 0; i < batch_.size(); ++i) {
    PendingRequest& request = *batch_requests_[i];
    request.sequence->Advance(static_cast<int>(batch_[i].tokens.size()));
    if (batch_[i].logits != LogitRows::kLast) continue;  // prompt not complete yet
    GenerationChunk chunk =
        request.sequence->Sample(absl::MakeConstSpan(&logits_[row++ * vocab], vocab));
    if (chunk.is_final()) {
      Finish(request, std::move(chunk), RequestState::kFinished);
    } else {
      Deliver(request, std::move(chunk));
    }
  }
  RemoveFinished();
}

}  // namespace ghost
