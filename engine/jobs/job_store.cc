#include "engine/jobs/job_store.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/common/durable_file.h"
#include "engine/common/file.h"
#include "engine/common/json.h"
#include "engine/common/log.h"
#include "engine/common/status_macros.h"

namespace ghost::jobs {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kFormat[] = "ghost-compress-job";
constexpr int kVersion = 1;
constexpr char kExtension[] = ".json";

// Times are stored as Unix milliseconds; "never" as null.
json TimeToJson(absl::Time time) {
  if (time == absl::InfinitePast()) return nullptr;
  return absl::ToUnixMillis(time);
}

json ReportToJson(const compress::CompressReport& report) {
  json tensors = json::array();
  for (const compress::TensorQuality& tensor : report.tensors) {
    tensors.push_back({{"tensor", tensor.tensor}, {"cosine", tensor.cosine}, {"mse", tensor.mse}});
  }
  return {{"scheme", report.scheme},
          {"block_size", report.block_size},
          {"bits_per_weight", report.bits_per_weight},
          {"compression_ratio", report.compression_ratio},
          {"bits_per_byte_before", report.bits_per_byte_before},
          {"bits_per_byte_after", report.bits_per_byte_after},
          {"removed_neuron_fraction", report.removed_neuron_fraction},
          {"activation_sparsity", report.activation_sparsity},
          {"gate_thresholds", report.gate_thresholds},
          {"tensors", tensors}};
}

// Reads fields of one JSON object, remembering the first problem.
class FieldReader {
 public:
  FieldReader(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  template <typename T>
  void Read(const char* key, T& out) {
    const auto it = object_.find(key);
    if (it == object_.end()) return Fail(key, "is missing");
    try {
      out = it->get<T>();
    } catch (const json::exception&) {
      Fail(key, "has the wrong type");
    }
  }
  void ReadTime(const char* key, absl::Time& out) {
    const auto it = object_.find(key);
    if (it == object_.end()) return Fail(key, "is missing");
    if (it->is_null()) {
      out = absl::InfinitePast();
    } else if (it->is_number_integer()) {
      out = absl::FromUnixMillis(it->get<int64_t>());
    } else {
      Fail(key, "is not a time");
    }
  }
  const json& Object(const char* key) {
    static const json* empty = new json(json::object());
    const auto it = object_.find(key);
    if (it == object_.end() || !it->is_object()) {
      Fail(key, "is not an object");
      return *empty;
    }
    return *it;
  }
  void Fail(const char* key, const char* problem) {
    if (status_.ok()) {
      status_ = absl::InvalidArgumentError(absl::StrCat(where_, "\"", key, "\" ", problem));
    }
  }
  absl::Status status() const { return status_; }

 private:
  const json& object_;
  std::string where_;
  absl::Status status_;
};

void ReadReport(const json& object, compress::CompressReport& report, FieldReader& outer) {
  FieldReader fields(object, "result: ");
  fields.Read("scheme", report.scheme);
  fields.Read("block_size", report.block_size);
  fields.Read("bits_per_weight", report.bits_per_weight);
  fields.Read("compression_ratio", report.compression_ratio);
  fields.Read("bits_per_byte_before", report.bits_per_byte_before);
  fields.Read("bits_per_byte_after", report.bits_per_byte_after);
  fields.Read("removed_neuron_fraction", report.removed_neuron_fraction);
  fields.Read("activation_sparsity", report.activation_sparsity);
  fields.Read("gate_thresholds", report.gate_thresholds);
  json tensors = json::array();
  fields.Read("tensors", tensors);
  for (const json& tensor : tensors) {
    if (!tensor.is_object()) return outer.Fail("result", "has a tensor that is not an object");
    FieldReader tensor_fields(tensor, "result tensor: ");
    compress::TensorQuality& quality = report.tensors.emplace_back();
    tensor_fields.Read("tensor", quality.tensor);
    tensor_fields.Read("cosine", quality.cosine);
    tensor_fields.Read("mse", quality.mse);
    if (!tensor_fields.status().ok()) return outer.Fail("result", "has a malformed tensor");
  }
  if (!fields.status().ok()) outer.Fail("result", "is malformed");
}

}  // namespace

std::string JobToJson(const CompressJob& job) {
  const CompressJobRequest& request = job.request;
  json out = {
      {"format", kFormat},
      {"version", kVersion},
      {"id", job.id},
      {"sequence", job.sequence},
      {"request",
       {{"request_id", request.request_id},
        {"model", request.model},
        {"output_model", request.output_model},
        {"scheme", request.scheme},
        {"block_size", request.block_size},
        {"remove_dead_neurons", request.remove_dead_neurons},
        {"target_sparsity", request.target_sparsity},
        {"output_format", request.output_format},
        {"calibration_fingerprint", absl::StrCat(absl::Hex(job.calibration_fingerprint))}}},
      {"output_dir", job.output_dir},
      {"state", JobStateName(job.state)},
      {"progress",
       {{"phase", job.progress.phase},
        {"layer", job.progress.layer},
        {"num_layers", job.progress.num_layers},
        {"percent", job.progress.percent}}},
      {"created", TimeToJson(job.created)},
      {"started", TimeToJson(job.started)},
      {"finished", TimeToJson(job.finished)},
      {"error",
       {{"code", static_cast<int>(job.error.code())},
        {"message", std::string(job.error.message())}}},
  };
  if (job.state == JobState::kSucceeded) out["result"] = ReportToJson(job.report);
  return out.dump(2);
}

absl::StatusOr<CompressJob> JobFromJson(const std::string& text) {
  GHOST_ASSIGN_OR_RETURN(const json parsed, ParseJsonStrict(text, "job file"));
  if (!parsed.is_object()) return absl::InvalidArgumentError("a job file is not a JSON object");
  FieldReader fields(parsed, "");
  std::string format;
  int version = 0;
  fields.Read("format", format);
  fields.Read("version", version);
  if (fields.status().ok() && (format != kFormat || version != kVersion)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a ", kFormat, " file of version ", kVersion));
  }
  CompressJob job;
  fields.Read("id", job.id);
  fields.Read("sequence", job.sequence);
  FieldReader request(fields.Object("request"), "request: ");
  request.Read("request_id", job.request.request_id);
  request.Read("model", job.request.model);
  request.Read("output_model", job.request.output_model);
  request.Read("scheme", job.request.scheme);
  request.Read("block_size", job.request.block_size);
  request.Read("remove_dead_neurons", job.request.remove_dead_neurons);
  request.Read("target_sparsity", job.request.target_sparsity);
  // Absent in files written before GGUF export existed.
  if (fields.Object("request").contains("output_format")) {
    request.Read("output_format", job.request.output_format);
  }
  std::string fingerprint;
  request.Read("calibration_fingerprint", fingerprint);
  if (request.status().ok() && !absl::SimpleHexAtoi(fingerprint, &job.calibration_fingerprint)) {
    request.Fail("calibration_fingerprint", "is not hexadecimal");
  }
  GHOST_RETURN_IF_ERROR(request.status());
  fields.Read("output_dir", job.output_dir);
  std::string state;
  fields.Read("state", state);
  if (fields.status().ok()) {
    const std::optional<JobState> parsed_state = ParseJobState(state);
    if (!parsed_state) return absl::InvalidArgumentError(absl::StrCat("unknown state ", state));
    job.state = *parsed_state;
  }
  FieldReader progress(fields.Object("progress"), "progress: ");
  progress.Read("phase", job.progress.phase);
  progress.Read("layer", job.progress.layer);
  progress.Read("num_layers", job.progress.num_layers);
  progress.Read("percent", job.progress.percent);
  GHOST_RETURN_IF_ERROR(progress.status());
  fields.ReadTime("created", job.created);
  fields.ReadTime("started", job.started);
  fields.ReadTime("finished", job.finished);
  FieldReader error(fields.Object("error"), "error: ");
  int code = 0;
  std::string message;
  error.Read("code", code);
  error.Read("message", message);
  GHOST_RETURN_IF_ERROR(error.status());
  job.error = absl::Status(static_cast<absl::StatusCode>(code), message);
  if (job.state == JobState::kSucceeded) ReadReport(fields.Object("result"), job.report, fields);
  GHOST_RETURN_IF_ERROR(fields.status());
  return job;
}

absl::StatusOr<JobStore> JobStore::Open(const std::string& registry_dir) {
  const std::string directory = JoinPath(registry_dir, "operations");
  std::error_code error;
  fs::create_directories(directory, error);
  if (error || !fs::is_directory(directory, error)) {
    return absl::FailedPreconditionError(
        absl::StrCat("job directory ", directory, " cannot be created"));
  }
  return JobStore(directory);
}

std::string JobStore::FileOf(const std::string& id) const {
  return JoinPath(directory_, id + kExtension);
}

std::vector<CompressJob> JobStore::ReadAll() const {
  std::vector<CompressJob> jobs;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory_, error)) {
    const std::string name = entry.path().filename().string();
    // WriteFileDurably's temp files end in ".json.tmp" and are skipped here.
    if (!absl::EndsWith(name, kExtension)) continue;
    absl::StatusOr<std::string> text = ReadFileToString(entry.path().string());
    absl::StatusOr<CompressJob> job =
        text.ok() ? JobFromJson(*text) : absl::StatusOr<CompressJob>(text.status());
    if (job.ok() && name != job->id + kExtension) {
      job = absl::InvalidArgumentError("its id does not match its file name");
    }
    if (!job.ok()) {
      LogWarning(absl::StrCat("compression job file ", entry.path().string(),
                              " skipped: ", job.status().message()));
      continue;
    }
    jobs.push_back(*std::move(job));
  }
  if (error) LogWarning(absl::StrCat("cannot list ", directory_, ": ", error.message()));
  return jobs;
}

absl::Status JobStore::Write(const CompressJob& job) const {
  return WriteFileDurably(FileOf(job.id), JobToJson(job));
}

absl::Status JobStore::Remove(const std::string& id) const {
  std::error_code error;
  fs::remove(FileOf(id), error);
  if (error)
    return absl::InternalError(absl::StrCat("cannot remove job ", id, ": ", error.message()));
  return absl::OkStatus();
}

}  // namespace ghost::jobs
