#include "engine/compressor/chunked_evaluation.h"

#include <algorithm>

namespace ghost::compress {

int TokensPerChunk(std::int64_t parameters, int window) {
  const std::int64_t tokens = kMultiplyAddsPerChunk / std::max<std::int64_t>(1, parameters);
  return static_cast<int>(
      std::clamp<std::int64_t>(tokens, std::min(kMinTokensPerChunk, window), window));
}

}  // namespace ghost::compress
