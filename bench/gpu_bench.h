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
  double tokens_per_second = 0;
  double weight_bytes_per_step = 0;
  double gbps = 0;  // weight bytes read per second
};

// Resident decode of a random Llama-3-8B-shape model (hidden 4096, 32 layers, 32/8 heads of
// 128, ffn 14336, vocab 128256; `quick`: 2 layers of hidden 256, vocab 1024) through the CUDA
// backend's ops, as the forward issues them: `steps` decode steps of `batch` sequences.
absl::StatusOr<GpuDecodeResult> RunGpuDecode(const std::string& format, int batch, int steps,
                                             bool quick);

}  // namespace ghost::bench

#endif  // GHOST_BENCH_GPU_BENCH_H_
