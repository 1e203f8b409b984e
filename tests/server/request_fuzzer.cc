// libFuzzer target: what a Generate, Evaluate or Compress call's bytes go through before the
// engine runs anything. The input is a generation_config.json (the model's defaults) and a request
// as it arrives on the wire: the server's raw-bytes parsing (raw_message.h, every string field
// checked for UTF-8), ToClientGenerationRequest, the engine's resolution against the defaults
// (ResolveWithDefaults, prompt text as a byte-level model's ids) and ValidateForModel with a
// served context below the model's. Besides crashes and sanitizer reports it checks the
// promises: every error has a message, and a request ValidateForModel accepts fits its context
// and carries sampling values the sampler can use. An Evaluate request goes through its text and
// window checks (evaluation_request.h) against a fuzzed limit and served context.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>
#include <vector>

#include "engine/model/generation_config.h"
#include "engine/registry/model_path.h"
#include "engine/runtime/evaluation_request.h"
#include "engine/runtime/request_defaults.h"
#include "ghost/v1/compression.pb.h"
#include "ghost/v1/inference.pb.h"
#include "server/generate_request.h"
#include "server/raw_message.h"

namespace {

void Check(bool promise) {
  if (!promise) std::abort();
}

// The server's raw-bytes parsing of `wire` into `request`; false when it rejects the bytes,
// which it must do with INVALID_ARGUMENT and a message.
template <typename Request>
bool Parsed(const std::string& wire, Request& request) {
  grpc::Slice slice(wire);
  const grpc::Status status = ghost::server::ParseRequest(grpc::ByteBuffer(&slice, 1), request);
  if (!status.ok()) {
    Check(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    Check(!status.error_message().empty());
  }
  return status.ok();
}

void FuzzGenerate(FuzzedDataProvider& input) {
  const std::string generation_config = input.ConsumeRandomLengthString(512);
  const int context = input.ConsumeIntegralInRange<int>(1, 1 << 24);
  const int served = input.ConsumeIntegralInRange<int>(1, 1 << 24);
  const std::string wire = input.ConsumeRemainingBytesAsString();

  ghost::GenerationDefaults defaults;
  absl::StatusOr<ghost::GenerationConfig> parsed =
      ghost::ParseGenerationConfig(generation_config, "fuzz/generation_config.json");
  if (parsed.ok()) defaults = parsed->defaults;

  ghost::v1::GenerateRequest request;
  if (!Parsed(wire, request)) return;
  const ghost::ClientGenerationRequest client = ghost::server::ToClientGenerationRequest(request);
  std::vector<std::int32_t> ids;
  if (const auto* text = std::get_if<std::string>(&client.prompt)) {
    ghost::RequestLimits limits;
    limits.max_prompt_bytes = 4096;
    if (!ghost::ValidatePromptText(*text, limits).ok()) return;
    for (const unsigned char byte : *text) ids.push_back(byte);  // a byte-level model's ids
  } else if (const auto* tokens = std::get_if<std::vector<std::int32_t>>(&client.prompt)) {
    ids = *tokens;
  }
  const ghost::GenerationRequest resolved =
      ghost::ResolveWithDefaults(client, std::move(ids), defaults, context);
  ghost::ModelConfig config;
  config.vocab_size = 259;
  config.max_position_embeddings = context;
  const absl::Status valid = ghost::ValidateForModel(resolved, config, served);
  if (!valid.ok()) {
    Check(!valid.message().empty());
    return;
  }
  const std::int64_t limit = std::min(context, served);
  const auto prompt = static_cast<std::int64_t>(resolved.prompt_tokens.size());
  Check(prompt >= 1 && resolved.stopping.max_new_tokens >= 1);
  Check(prompt + resolved.stopping.max_new_tokens <= limit);
  for (const std::int32_t id : resolved.prompt_tokens) Check(id >= 0 && id < config.vocab_size);
  const ghost::SamplingOptions& s = resolved.sampling;
  Check(std::isfinite(s.temperature) && s.temperature >= 0);
  Check(s.top_p > 0 && s.top_p <= 1 && s.min_p >= 0 && s.min_p <= 1 && s.top_k >= 0);
  Check(std::isfinite(s.repetition_penalty) && s.repetition_penalty > 0);
}

void FuzzEvaluate(FuzzedDataProvider& input) {
  const int context = input.ConsumeIntegralInRange<int>(1, 1 << 24);
  ghost::RequestLimits limits;
  limits.max_prompt_bytes = input.ConsumeIntegralInRange<std::size_t>(0, 1 << 20);
  ghost::v1::EvaluateRequest request;
  if (!Parsed(input.ConsumeRemainingBytesAsString(), request)) return;
  const absl::Status text = ghost::ValidateEvaluationText(request.text(), limits);
  if (text.ok()) {
    Check(!request.text().empty() && request.text().size() <= limits.max_prompt_bytes);
  } else {
    Check(text.code() == absl::StatusCode::kInvalidArgument && !text.message().empty());
  }
  const absl::StatusOr<int> window = ghost::ResolveEvaluationWindow(request.window(), context);
  if (!window.ok()) {
    Check(request.window() != 0 && !window.status().message().empty());
    Check(window.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  Check(*window >= 1 && *window <= context);
  if (request.window() == 0) {
    Check(*window == std::min(ghost::kDefaultEvaluationWindow, context));
  } else {
    Check(*window == request.window() && *window >= 2);
  }
}

void FuzzCompress(FuzzedDataProvider& input) {
  ghost::v1::CompressRequest request;
  if (!Parsed(input.ConsumeRemainingBytesAsString(), request)) return;
  // What the job manager checks first: the output name becomes a directory and a label.
  const absl::Status name = ghost::ValidateModelName(request.output_model());
  if (name.ok()) {
    Check(request.output_model().find('/') == std::string::npos);
    Check(request.output_model() != "." && request.output_model() != "..");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  // Odd: Generate (the seeds written when the choice was a bool keep their meaning).
  const auto call = input.ConsumeIntegral<std::uint8_t>();
  if (call & 1) {
    FuzzGenerate(input);
  } else if (call & 2) {
    FuzzEvaluate(input);
  } else {
    FuzzCompress(input);
  }
  return 0;
}
