#include "server/generate_request.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/common/utf8.h"

namespace ghost::server {
namespace {

constexpr int kFallbackMaxNewTokens = 128;

absl::StatusOr<std::vector<std::int32_t>> PromptTokens(const ghost::v1::GenerateRequest& request,
                                                       const Model& model) {
  switch (request.input_case()) {
    case ghost::v1::GenerateRequest::kText:
      if (request.text().empty()) return absl::InvalidArgumentError("text is empty");
      if (!IsValidUtf8(request.text())) {
        return absl::InvalidArgumentError("text is not valid UTF-8");
      }
      return model.tokenizer().Encode(request.text(), /*parse_special=*/false,
                                      /*add_special_tokens=*/true);
    case ghost::v1::GenerateRequest::kTokenIds: {
      const auto& ids = request.token_ids().ids();
      if (ids.empty()) return absl::InvalidArgumentError("token_ids is empty");
      const int vocab = model.tokenizer().vocab_size();
      for (const std::int32_t id : ids) {
        if (id < 0 || id >= vocab) {
          return absl::InvalidArgumentError(
              absl::StrCat("token id ", id, " is outside the vocabulary [0, ", vocab, ")"));
        }
      }
      return std::vector<std::int32_t>(ids.begin(), ids.end());
    }
    case ghost::v1::GenerateRequest::INPUT_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("the prompt is empty: set text or token_ids");
}

}  // namespace

absl::StatusOr<GenerationRequest> ToGenerationRequest(const ghost::v1::GenerateRequest& request,
                                                      const Model& model) {
  GenerationRequest out;
  auto tokens = PromptTokens(request, model);
  if (!tokens.ok()) return tokens.status();
  out.prompt_tokens = *std::move(tokens);

  const GenerationDefaults& defaults = model.generation_defaults();
  const ghost::v1::SamplingParams& sp = request.sampling();
  SamplingOptions& sampling = out.sampling;
  if (sp.has_temperature()) {
    sampling.temperature = sp.temperature();
  } else if (defaults.do_sample.has_value() && !*defaults.do_sample) {
    sampling.temperature = 0.0f;
  } else {
    sampling.temperature = defaults.temperature.value_or(1.0f);
  }
  sampling.top_p = sp.has_top_p() ? sp.top_p() : defaults.top_p.value_or(1.0f);
  sampling.top_k = sp.has_top_k() ? sp.top_k() : defaults.top_k.value_or(0);
  sampling.min_p = sp.has_min_p() ? sp.min_p() : defaults.min_p.value_or(0.0f);
  sampling.repetition_penalty = sp.has_repetition_penalty()
                                    ? sp.repetition_penalty()
                                    : defaults.repetition_penalty.value_or(1.0f);
  sampling.presence_penalty = sp.presence_penalty();
  sampling.frequency_penalty = sp.frequency_penalty();
  if (sp.has_seed()) sampling.seed = sp.seed();

  const ghost::v1::StoppingCriteria& sc = request.stopping();
  StoppingOptions& stopping = out.stopping;
  if (sc.has_max_new_tokens()) {
    stopping.max_new_tokens = sc.max_new_tokens();
  } else {
    // Unset: the model's default, shortened so prompt + output fits the context.
    const int room = model.config().max_position_embeddings -
                     static_cast<int>(out.prompt_tokens.size());
    stopping.max_new_tokens =
        std::max(1, std::min(defaults.max_new_tokens.value_or(kFallbackMaxNewTokens), room));
  }
  stopping.min_new_tokens = sc.min_new_tokens();
  stopping.stop.assign(sc.stop().begin(), sc.stop().end());
  stopping.stop_token_ids.assign(sc.stop_token_ids().begin(), sc.stop_token_ids().end());
  stopping.ignore_eos = sc.ignore_eos();

  if (request.logprobs() < 0 || request.logprobs() > 20) {
    return absl::InvalidArgumentError(
        absl::StrCat("logprobs must be in [0, 20], got ", request.logprobs()));
  }
  out.top_logprobs = request.logprobs();
  if (absl::Status status = out.Validate(); !status.ok()) return status;
  return out;
}

void AppendChunk(const GenerationChunk& chunk, ghost::v1::GenerateResponse& response) {
  for (const std::int32_t id : chunk.token_ids) response.add_token_ids(id);
  response.mutable_text()->append(chunk.text);
  for (const TokenLogprob& lp : chunk.logprobs) {
    ghost::v1::TokenLogprob* out = response.add_logprobs();
    out->set_token_id(lp.token_id);
    out->set_logprob(lp.logprob);
    for (const auto& [id, logprob] : lp.top) {
      ghost::v1::TopLogprob* top = out->add_top_logprobs();
      top->set_token_id(id);
      top->set_logprob(logprob);
    }
  }
  if (chunk.is_final()) {
    response.set_finish_reason(FinishReasonName(chunk.finish_reason));
    response.mutable_usage()->set_prompt_tokens(chunk.prompt_tokens);
    response.mutable_usage()->set_completion_tokens(chunk.completion_tokens);
  }
}

}  // namespace ghost::server
