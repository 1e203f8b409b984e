// Conversion between the ghost.v1 wire messages and the engine's request and chunk types. The
// engine resolves defaults and validates (engine/runtime/request_defaults.h); this only maps
// fields.
#ifndef GHOST_SERVER_GENERATE_REQUEST_H_
#define GHOST_SERVER_GENERATE_REQUEST_H_

#include "engine/runtime/request.h"
#include "engine/runtime/request_defaults.h"
#include "ghost/v1/inference.pb.h"

namespace ghost::server {

// The request's fields as the client sent them: a proto3 `optional` field left unset stays
// unset, for the engine to default.
ClientGenerationRequest ToClientGenerationRequest(const ghost::v1::GenerateRequest& request);

// Appends a chunk to a response message (several chunks may be merged into one message).
void AppendChunk(const GenerationChunk& chunk, ghost::v1::GenerateResponse& response);

}  // namespace ghost::server

#endif  // GHOST_SERVER_GENERATE_REQUEST_H_
