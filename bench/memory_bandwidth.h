// The machine's memory read bandwidth, measured with every pool thread summing its share
// of one large buffer (STREAM-like), so kernels can be reported as a fraction of it.
#ifndef GHOST_BENCH_MEMORY_BANDWIDTH_H_
#define GHOST_BENCH_MEMORY_BANDWIDTH_H_

#include <cstddef>

namespace ghost::bench {

struct BandwidthResult {
  std::size_t bytes = 0;    // Bytes read per pass.
  double best_seconds = 0;  // Fastest pass.
  double gb_per_s = 0;      // bytes / best_seconds / 1e9.
  int threads = 0;
};

// Fills buffer[0, bytes) (touching every page), then reads it repeatedly for about
// min_seconds (at least 3 passes) and keeps the fastest pass. buffer is 64-byte aligned.
BandwidthResult MeasureReadBandwidth(void* buffer, std::size_t bytes, double min_seconds);

// How many copies of bytes_per_copy weights to rotate through so that the copies not in use
// exceed 4x the last-level cache (at least 2): every call then reads its weights from memory.
std::size_t CopiesToDefeatCache(std::size_t bytes_per_copy);

}  // namespace ghost::bench

#endif  // GHOST_BENCH_MEMORY_BANDWIDTH_H_
