// Running a model over long texts in chunks small enough that a compression job can stop
// between any two of them: every phase of a job checks for cancellation at least once per chunk.
#ifndef GHOST_ENGINE_COMPRESSOR_CHUNKED_EVALUATION_H_
#define GHOST_ENGINE_COMPRESSOR_CHUNKED_EVALUATION_H_

#include <cstdint>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "engine/model/evaluate.h"
#include "engine/model/model.h"

namespace ghost::compress {

// Work of one chunk: about this many multiply-adds, ~100 ms on two cores.
inline constexpr std::int64_t kMultiplyAddsPerChunk = 500'000'000;
// Fewer tokens per forward call would read every weight for too little work.
inline constexpr int kMinTokensPerChunk = 16;

// Tokens of one chunk for a model of `parameters` weights: kMultiplyAddsPerChunk / parameters,
// within [kMinTokensPerChunk, window]. ghost-tiny (5.8 M) runs 85 tokens per chunk.
int TokensPerChunk(std::int64_t parameters, int window);

// Called before every chunk with the tokens done and the total; a status other than OK (a
// cancellation) stops the work and is returned as it is.
using BeforeChunkFn = absl::FunctionRef<absl::Status(std::int64_t done, std::int64_t total)>;

// Bits per byte of `model` on `text`, the measure EvaluateBitsPerByte (engine/model/evaluate.h)
// defines, with the same windows and predictions and the same errors, but each window runs
// through one session in chunks of `chunk_tokens` (>= 1) tokens with `before_chunk` called
// before each.
absl::StatusOr<EvalResult> EvaluateBitsPerByteInChunks(const Model& model, std::string_view text,
                                                       int window, int chunk_tokens,
                                                       BeforeChunkFn before_chunk);

}  // namespace ghost::compress

#endif  // GHOST_ENGINE_COMPRESSOR_CHUNKED_EVALUATION_H_
