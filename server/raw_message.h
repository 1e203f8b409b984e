// Request parsing for the services that take their messages as raw bytes (the generated
// WithRawCallbackMethod_ variants). gRPC's generated code parses requests itself, and a proto3
// string field holding invalid UTF-8 fails protobuf's parse; the callback API then answers
// UNIMPLEMENTED with an empty message (grpcpp 1.51, server_callback_handlers.h), and protobuf
// logs an error per call. Parsed here, the same request gets INVALID_ARGUMENT naming the field
// (TESTPLAN A5), and nothing is logged. The wire format does not change.
#ifndef GHOST_SERVER_RAW_MESSAGE_H_
#define GHOST_SERVER_RAW_MESSAGE_H_

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

namespace ghost::server {

// Parses `buffer` into `message`. INVALID_ARGUMENT naming the first string field that is not
// valid UTF-8, as a path from the message ("stopping.stop[1]"), or saying that the bytes are not
// a message of that type.
grpc::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message& message);

// Serializes `message` into `buffer`, replacing its contents. Protobuf refuses only messages over
// 2 GB, and the API's responses are bounded far below that (message size limits, the context).
void SerializeResponse(const google::protobuf::Message& message, grpc::ByteBuffer& buffer);

}  // namespace ghost::server

#endif  // GHOST_SERVER_RAW_MESSAGE_H_
