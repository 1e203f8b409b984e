#include "server/raw_message.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/common/utf8.h"

namespace ghost::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

// Deeper than any message of the API; bounds the recursion on hostile input.
constexpr int kMaxDepth = 32;

// The path of the first string field under `fields` (parsed as `type`) that holds invalid
// UTF-8, or nullopt. Fields that `type` does not know are ignored, as the parser ignores them.
std::optional<std::string> FindInvalidUtf8(const UnknownFieldSet& fields, const Descriptor& type,
                                           int depth) {
  absl::flat_hash_map<int, int> occurrences;  // field number -> index of the next repetition
  for (int i = 0; i < fields.field_count(); ++i) {
    const UnknownField& field = fields.field(i);
    const FieldDescriptor* descriptor = type.FindFieldByNumber(field.number());
    if (descriptor == nullptr || field.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    const int index = occurrences[field.number()]++;
    const std::string name = descriptor->is_repeated()
                                 ? absl::StrCat(descriptor->name(), "[", index, "]")
                                 : descriptor->name();
    if (descriptor->type() == FieldDescriptor::TYPE_STRING) {
      if (!IsValidUtf8(field.length_delimited())) return name;
    } else if (descriptor->type() == FieldDescriptor::TYPE_MESSAGE && depth < kMaxDepth) {
      UnknownFieldSet nested;
      if (!nested.ParseFromString(field.length_delimited())) continue;  // the parser says so
      if (std::optional<std::string> inner =
              FindInvalidUtf8(nested, *descriptor->message_type(), depth + 1)) {
        return absl::StrCat(name, ".", *inner);
      }
    }
  }
  return std::nullopt;
}

}  // namespace

grpc::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message& message) {
  std::vector<grpc::Slice> slices;
  if (grpc::Status dumped = buffer.Dump(&slices); !dumped.ok()) return dumped;
  std::string bytes;
  bytes.reserve(buffer.Length());
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  const Descriptor& type = *message.GetDescriptor();
  // Checked before parsing: protobuf would log an error for every such request.
  UnknownFieldSet fields;
  if (fields.ParseFromString(bytes)) {
    if (std::optional<std::string> field = FindInvalidUtf8(fields, type, 0)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("field ", *field, " of ", type.full_name(),
                                       " is not valid UTF-8 (string fields must be)"));
    }
  }
  if (!message.ParseFromString(bytes)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("the request is not a valid ", type.full_name(), " message"));
  }
  return grpc::Status::OK;
}

void SerializeResponse(const google::protobuf::Message& message, grpc::ByteBuffer& buffer) {
  buffer.Clear();  // the writer requires an empty buffer
  bool own_buffer = false;
  (void)grpc::SerializationTraits<google::protobuf::Message>::Serialize(message, &buffer,
                                                                        &own_buffer);
}

}  // namespace ghost::server
