// Timing for benchmarks on a shared machine: the fastest of several rounds, as the bandwidth
// pass measures it too; the other rounds measure the neighbours.
#ifndef GHOST_BENCH_BEST_ROUND_H_
#define GHOST_BENCH_BEST_ROUND_H_

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace ghost::bench {

struct BestRound {
  double seconds_per_call = 0;  // of the fastest round
  std::size_t calls = 0;        // in all rounds, warm-up excluded
};

// Calls call(copy) once per copy as a warm-up (page tables, pool threads), then in rounds of
// one call per copy for `seconds` (at least 3 rounds), and keeps the fastest round.
template <typename Call>
BestRound TimeBestRound(double seconds, std::size_t copies, Call&& call) {
  using Clock = std::chrono::steady_clock;
  for (std::size_t i = 0; i < copies; ++i) call(i);
  BestRound result;
  double best = 1e30;
  const Clock::time_point start = Clock::now();
  for (int round = 0; round < 3 || Clock::now() - start < std::chrono::duration<double>(seconds);
       ++round) {
    const Clock::time_point round_start = Clock::now();
    for (std::size_t i = 0; i < copies; ++i) call(i);
    result.calls += copies;
    best = std::min(best, std::chrono::duration<double>(Clock::now() - round_start).count());
  }
  result.seconds_per_call = best / static_cast<double>(copies);
  return result;
}

}  // namespace ghost::bench

#endif  // GHOST_BENCH_BEST_ROUND_H_
