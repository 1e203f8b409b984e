// Conversion between the ghost.v1 wire messages and the engine's request and chunk types,
// including the defaults taken from the model's generation_config.json.
#ifndef GHOST_SERVER_GENERATE_REQUEST_H_
#define GHOST_SERVER_GENERATE_REQUEST_H_

#include "absl/status/statusor.h"
#include "engine/model/model.h"
#include "engine/runtime/request.h"
#include "ghost/v1/inference.pb.h"

namespace ghost::server {

// Tokenizes the input and resolves unset fields from the model's defaults. INVALID_ARGUMENT,
// with a message naming the field, for anything the engine would refuse.
absl::StatusOr<GenerationRequest> ToGenerationRequest(const ghost::v1::GenerateRequest& request,
                                                      const Model& model);

// Appends a chunk to a response message (several chunks may be merged into one message).
void AppendChunk(const GenerationChunk& chunk, ghost::v1::GenerateResponse& response);

}  // namespace ghost::server

#endif  // GHOST_SERVER_GENERATE_REQUEST_H_
