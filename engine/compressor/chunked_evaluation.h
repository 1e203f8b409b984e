// How many tokens a compression job runs per forward call: chunks small enough that every phase
// of a job checks for cancellation at least every ~100 ms (EvaluateBitsPerByte's before_chunk,
// engine/model/evaluate.h, and the activation profile).
#ifndef GHOST_ENGINE_COMPRESSOR_CHUNKED_EVALUATION_H_
#define GHOST_ENGINE_COMPRESSOR_CHUNKED_EVALUATION_H_

#include <cstdint>

namespace ghost::compress {

// Work of one chunk: about this many multiply-adds, ~100 ms on two cores.
inline constexpr std::int64_t kMultiplyAddsPerChunk = 500'000'000;
// Fewer tokens per forward call would read every weight for too little work.
inline constexpr int kMinTokensPerChunk = 16;

// Tokens of one chunk for a model of `parameters` weights: kMultiplyAddsPerChunk / parameters,
// within [kMinTokensPerChunk, window]. ghost-tiny (5.8 M) runs 85 tokens per chunk.
int TokensPerChunk(std::int64_t parameters, int window);

}  // namespace ghost::compress

#endif  // GHOST_ENGINE_COMPRESSOR_CHUNKED_EVALUATION_H_
