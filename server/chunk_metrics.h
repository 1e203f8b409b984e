// The per-request series every front end records from the engine's chunks: queue time, time to
// first token, inter-token latency, generated tokens, streamed bytes, end-to-end latency and the
// finish reason. One recorder per request; not thread-safe (the engine delivers a request's
// chunks one at a time).
#ifndef GHOST_SERVER_CHUNK_METRICS_H_
#define GHOST_SERVER_CHUNK_METRICS_H_

#include "absl/time/time.h"
#include "engine/runtime/request.h"
#include "server/metrics.h"

namespace ghost::server {

class ChunkMetricsRecorder {
 public:
  // `arrival`: when the request reached the server, the start of its latencies.
  ChunkMetricsRecorder(ModelMetrics& metrics, absl::Time arrival)
      : metrics_(metrics), arrival_(arrival) {}

  void Record(const GenerationChunk& chunk);

 private:
  ModelMetrics& metrics_;
  const absl::Time arrival_;
  absl::Time last_token_;
  int tokens_streamed_ = 0;
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_CHUNK_METRICS_H_
