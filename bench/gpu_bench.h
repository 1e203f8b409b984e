// Internal to ghostbench gpu: the parts of the CUDA benchmark, each in its own file.
#ifndef GHOST_BENCH_GPU_BENCH_H_
#define GHOST_BENCH_GPU_BENCH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ghost::bench {

struct GpuDecodeResult {
  std::string format;  // "bf16" or "ternary-2bit"
  int batch = 0;
  int weight_budget_percent = 100;  // of the decoder layers' bytes (RunGpuDecode)
  double tokens_per_second = 0;
  double weight_bytes_per_step = 0;
  double gbps = 0;  // weight bytes read per second
  double step_seconds = 0;
  // Streaming (budget under 100%): layers streamed, the bytes each step copies to the device, and
  // the streamer's counters over the measured steps.
  int streamed_layers = 0;
  double stream_bytes_per_step = 0;
  double stream_gbps = 0;  // bytes copied per second of the whole run
  double copy_seconds = 0;
  double wait_seconds = 0;
};

// Decode of a random Llama-3-8B-shape model (hidden 4096, 32 layers, 32/8 heads of 128, ffn
// 14336, vocab 128256; `quick`: 12 layers of hidden 256, vocab 1024) through the CUDA backend's
// ops, as the forward issues them: `steps` decode steps of each batch in `batches`, for each
// weight budget in `budget_percents`: the embedding and head plus that share of the decoder
// layers' bytes, as `ghostbench stream` counts it (a ternary model's bf16 embedding and head
// alone are half its bytes). Under 100 the layers that do not fit by the model's own plan
// (PlanWeights, two slots) stream from pinned host memory through the layer streamer and the
// CUDA transport. The model is built once per call.
absl::StatusOr<std::vector<GpuDecodeResult>> RunGpuDecode(const std::string& format,
                                                          const std::vector<int>& budget_percents,
                                                          const std::vector<int>& batches,
                                                          int steps, bool quick);

}  // namespace ghost::bench

#endif  // GHOST_BENCH_GPU_BENCH_H_
