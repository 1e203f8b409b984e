// How ghostctl shows compression operations: a state word, a progress line, the quality table.
#ifndef GHOST_CLIENTS_GHOSTCTL_OPERATION_FORMAT_H_
#define GHOST_CLIENTS_GHOSTCTL_OPERATION_FORMAT_H_

#include <string>

#include "ghost/v1/compression.pb.h"
#include "google/longrunning/operations.pb.h"

namespace ghost::ctl {

// "queued", "running", "succeeded", "cancelled" or "failed".
std::string OperationState(const google::longrunning::Operation& operation);
ghost::v1::CompressMetadata MetadataOf(const google::longrunning::Operation& operation);
// "[#########...........]  45.0%  quantizing  layer 2/4  12.3 s"
std::string ProgressLine(const ghost::v1::CompressMetadata& metadata);
// The summary and per-tensor quality of a finished job, as printed after --wait.
void PrintQualityReport(const ghost::v1::CompressResponse& response);
// "operations/ID" for an ID given with or without the prefix.
std::string OperationName(const std::string& id_or_name);

}  // namespace ghost::ctl

#endif  // GHOST_CLIENTS_GHOSTCTL_OPERATION_FORMAT_H_
