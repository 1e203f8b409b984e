#include "server/chunk_metrics.h"

#include "absl/time/clock.h"

namespace ghost::server {

void ChunkMetricsRecorder::Record(const GenerationChunk& chunk) {
  const absl::Time now = absl::Now();
  if (chunk.queue_time) {
    metrics_.request_queue_time.Observe(absl::ToDoubleSeconds(*chunk.queue_time));
  }
  if (!chunk.token_ids.empty()) {
    if (tokens_streamed_ == 0) {
      metrics_.time_to_first_token.Observe(absl::ToDoubleSeconds(now - arrival_));
    } else {
      metrics_.inter_token_latency.Observe(absl::ToDoubleSeconds(now - last_token_));
    }
    last_token_ = now;
    tokens_streamed_ += static_cast<int>(chunk.token_ids.size());
    metrics_.generation_tokens.Increment(static_cast<double>(chunk.token_ids.size()));
  }
  metrics_.text_bytes.Increment(static_cast<double>(chunk.text.size()));
  if (chunk.is_final()) {
    metrics_.e2e_request_latency.Observe(absl::ToDoubleSeconds(now - arrival_));
    metrics_.CountFinished(FinishReasonName(chunk.finish_reason));
  }
}

}  // namespace ghost::server
