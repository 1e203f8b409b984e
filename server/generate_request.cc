#include "server/generate_request.h"

#include <cstdint>
#include <utility>
#include <vector>

namespace ghost::server {

ClientGenerationRequest ToClientGenerationRequest(const ghost::v1::GenerateRequest& request) {
  ClientGenerationRequest out;
  out.request_id = request.request_id();
  switch (request.input_case()) {
    case ghost::v1::GenerateRequest::kText:
      out.prompt = request.text();
      break;
    case ghost::v1::GenerateRequest::kTokenIds:
      out.prompt = std::vector<std::int32_t>(request.token_ids().ids().begin(),
                                             request.token_ids().ids().end());
      break;
    case ghost::v1::GenerateRequest::kMessages: {
      std::vector<ChatMessage> messages;
      for (const ghost::v1::ChatMessage& m : request.messages().messages()) {
        messages.push_back({.role = m.role(), .content = m.content()});
      }
      out.prompt = std::move(messages);
      if (request.messages().has_add_generation_prompt()) {
        out.chat.add_generation_prompt = request.messages().add_generation_prompt();
      }
      break;
    }
    case ghost::v1::GenerateRequest::INPUT_NOT_SET:
      break;
  }

  const ghost::v1::SamplingParams& sp = request.sampling();
  ClientGenerationRequest::Sampling& sampling = out.sampling;
  if (sp.has_temperature()) sampling.temperature = sp.temperature();
  if (sp.has_top_p()) sampling.top_p = sp.top_p();
  if (sp.has_top_k()) sampling.top_k = sp.top_k();
  if (sp.has_min_p()) sampling.min_p = sp.min_p();
  if (sp.has_repetition_penalty()) sampling.repetition_penalty = sp.repetition_penalty();
  sampling.presence_penalty = sp.presence_penalty();
  sampling.frequency_penalty = sp.frequency_penalty();
  if (sp.has_seed()) sampling.seed = sp.seed();

  const ghost::v1::StoppingCriteria& sc = request.stopping();
  ClientGenerationRequest::Stopping& stopping = out.stopping;
  if (sc.has_max_new_tokens()) stopping.max_new_tokens = sc.max_new_tokens();
  stopping.min_new_tokens = sc.min_new_tokens();
  stopping.stop.assign(sc.stop().begin(), sc.stop().end());
  stopping.stop_token_ids.assign(sc.stop_token_ids().begin(), sc.stop_token_ids().end());
  stopping.ignore_eos = sc.ignore_eos();

  out.top_logprobs = request.logprobs();
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
