// The --curve option shared by the concurrency benchmarks: "1,2,4,8" -> {1, 2, 4, 8}.
#ifndef GHOST_BENCH_CURVE_H_
#define GHOST_BENCH_CURVE_H_

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace ghost::bench {

// Replaces `curve` with the comma-separated levels of `text`; false unless every level is a
// positive integer.
inline bool ParseCurve(const char* text, std::vector<int>& curve) {
  curve.clear();
  for (auto part : absl::StrSplit(text, ',')) {
    int level;
    if (!absl::SimpleAtoi(part, &level) || level < 1) return false;
    curve.push_back(level);
  }
  return true;
}

}  // namespace ghost::bench

#endif  // GHOST_BENCH_CURVE_H_
