// Test helper: collects one request's chunks from an Executor sink and lets the test wait for
// the final one.
#ifndef GHOST_TESTS_ENGINE_CHUNK_COLLECTOR_H_
#define GHOST_TESTS_ENGINE_CHUNK_COLLECTOR_H_

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "engine/runtime/request.h"

namespace ghost::testing {

class Collector {
 public:
  ChunkSink Sink() {
    return [this](GenerationChunk chunk) {
      if (hold_ != nullptr) {
        entered_.Notify();
        hold_->WaitForNotification();
        hold_ = nullptr;  // only the first chunk is held
      }
      absl::MutexLock lock(&mutex_);
      if (!chunks_.empty() && chunks_.back().is_final()) ++chunks_after_final_;
      num_tokens_ += chunk.token_ids.size();
      chunks_.push_back(std::move(chunk));
    };
  }
  // Makes the sink block on its first chunk until `release` is notified: this keeps the
  // scheduler busy so that the test controls what is running and what is queued.
  void HoldFirstChunk(absl::Notification* release) { hold_ = release; }
  void WaitUntilHeld() { entered_.WaitForNotification(); }

  GenerationChunk WaitFinal() {
    absl::MutexLock lock(&mutex_);
    mutex_.Await(absl::Condition(
        +[](std::vector<GenerationChunk>* c) { return !c->empty() && c->back().is_final(); },
        &chunks_));
    return chunks_.back();
  }
  // Waits until `count` tokens have arrived or the stream has ended.
  void WaitUntilTokens(size_t count) {
    absl::MutexLock lock(&mutex_);
    const auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
      return num_tokens_ >= count || (!chunks_.empty() && chunks_.back().is_final());
    };
    mutex_.Await(absl::Condition(&ready));
  }
  std::vector<GenerationChunk> chunks() {
    absl::MutexLock lock(&mutex_);
    return chunks_;
  }
  std::vector<std::int32_t> tokens() {
    std::vector<std::int32_t> ids;
    for (const GenerationChunk& c : chunks())
      ids.insert(ids.end(), c.token_ids.begin(), c.token_ids.end());
    return ids;
  }
  std::string text() {
    std::string out;
    for (const GenerationChunk& c : chunks()) out += c.text;
    return out;
  }
  int chunks_after_final() {
    absl::MutexLock lock(&mutex_);
    return chunks_after_final_;
  }

 private:
  absl::Notification* hold_ = nullptr;
  absl::Notification entered_;
  absl::Mutex mutex_;
  std::vector<GenerationChunk> chunks_ ABSL_GUARDED_BY(mutex_);
  int chunks_after_final_ ABSL_GUARDED_BY(mutex_) = 0;
  size_t num_tokens_ ABSL_GUARDED_BY(mutex_) = 0;
};

}  // namespace ghost::testing

#endif  // GHOST_TESTS_ENGINE_CHUNK_COLLECTOR_H_
