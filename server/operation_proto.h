// Compression jobs as google.longrunning.Operation messages (AIP-151): name "operations/<id>",
// CompressMetadata as metadata, CompressResponse or a google.rpc.Status as the result.
#ifndef GHOST_SERVER_OPERATION_PROTO_H_
#define GHOST_SERVER_OPERATION_PROTO_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/jobs/compress_job.h"
#include "ghost/v1/compression.pb.h"
#include "google/longrunning/operations.pb.h"

namespace ghost::server {

inline constexpr char kOperationPrefix[] = "operations/";

// `now` sets elapsed_seconds of a running job.
void ToOperation(const jobs::CompressJob& job, absl::Time now, google::longrunning::Operation& out);

jobs::CompressJobRequest FromProto(const ghost::v1::CompressRequest& request);

// The job id in "operations/<id>"; NOT_FOUND for any other name, since no such operation exists.
absl::StatusOr<std::string> JobIdOf(const std::string& operation_name);

}  // namespace ghost::server

#endif  // GHOST_SERVER_OPERATION_PROTO_H_
