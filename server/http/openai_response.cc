#include "server/http/openai_response.h"

#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"

namespace ghost::server::http {
namespace {

using Json = nlohmann::json;

// Generated text and token strings may hold partial UTF-8 (a byte-level token alone); JSON
// needs valid UTF-8, so such bytes become U+FFFD in strings (the exact bytes are in `bytes`).
std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string Event(const Json& json) { return absl::StrCat("data: ", Dump(json), "\n\n"); }

}  // namespace

std::string NewResponseId(Endpoint endpoint) {
  thread_local absl::BitGen bits;
  return absl::StrFormat("%s-%012x%012x", endpoint == Endpoint::kCompletions ? "cmpl" : "chatcmpl",
                         absl::Uniform<std::uint64_t>(bits) & 0xffffffffffffULL,
                         absl::Uniform<std::uint64_t>(bits) & 0xffffffffffffULL);
}

const char* OpenAiFinishReason(FinishReason reason) {
  return reason == FinishReason::kLength ? "length" : "stop";
}

struct ResponseFormatter::State {
  const OpenAiRequest& request;
  const bool chat;
  const std::string id;
  const std::string model;
  const std::int64_t created = absl::ToUnixSeconds(absl::Now());
  const Tokenizer& tokenizer;
  bool role_sent = false;
  std::size_t text_offset = 0;  // completions' logprobs.text_offset of the next token
  // Not streaming: what the chunks brought.
  std::string text;
  Json logprobs;
  FinishReason finish_reason = FinishReason::kNone;
  int prompt_tokens = 0;
  int completion_tokens = 0;

  State(const OpenAiRequest& request, std::string model, const Tokenizer& tokenizer)
      : request(request),
        chat(request.endpoint == Endpoint::kChatCompletions),
        id(NewResponseId(request.endpoint)),
        model(std::move(model)),
        tokenizer(tokenizer) {
    logprobs = EmptyLogprobs();
  }

  Json EmptyLogprobs() const {
    if (chat) return Json{{"content", Json::array()}};
    return Json{{"tokens", Json::array()},
                {"token_logprobs", Json::array()},
                {"top_logprobs", Json::array()},
                {"text_offset", Json::array()}};
  }

  std::string TokenText(std::int32_t id) const {
    std::string text;
    // Position 1: a token's text as it reads inside the output (SentencePiece keeps the space).
    if (!tokenizer.AppendDecoded(id, 1, text).ok()) return "";
    return text;
  }

  static Json Bytes(const std::string& text) {
    Json bytes = Json::array();
    for (const char c : text) bytes.push_back(static_cast<unsigned char>(c));
    return bytes;
  }

  // Appends `chunk`'s tokens to `out`, in this endpoint's logprobs format.
  void AddLogprobs(const GenerationChunk& chunk, Json& out) {
    for (const TokenLogprob& lp : chunk.logprobs) {
      const std::string token = TokenText(lp.token_id);
      const std::size_t shown = std::min<std::size_t>(request.top_logprobs, lp.top.size());
      if (chat) {
        Json top = Json::array();
        for (std::size_t i = 0; i < shown; ++i) {
          const std::string alternative = TokenText(lp.top[i].first);
          top.push_back({{"token", alternative},
                         {"logprob", lp.top[i].second},
                         {"bytes", Bytes(alternative)}});
        }
        out["content"].push_back({{"token", token},
                                  {"logprob", lp.logprob},
                                  {"bytes", Bytes(token)},
                                  {"top_logprobs", std::move(top)}});
      } else {
        Json top = Json::object();
        for (std::size_t i = 0; i < shown; ++i) {
          top[TokenText(lp.top[i].first)] = lp.top[i].second;
        }
        out["tokens"].push_back(token);
        out["token_logprobs"].push_back(lp.logprob);
        out["top_logprobs"].push_back(std::move(top));
        out["text_offset"].push_back(text_offset);
        text_offset += token.size();
      }
    }
  }

  Json Usage() const {
    return {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"total_tokens", prompt_tokens + completion_tokens}};
  }

  // A stream event carrying one choice (or none, for the usage event).
  Json ChunkObject(Json choices) const {
    Json object = {{"id", id},
                   {"object", chat ? "chat.completion.chunk" : "text_completion"},
                   {"created", created},
                   {"model", model},
                   {"choices", std::move(choices)}};
    // With include_usage every event carries "usage": null but the last, which has it.
    if (request.include_usage) object["usage"] = nullptr;
    return object;
  }

  Json Choice(Json delta_or_text, const Json& choice_logprobs, const char* finish_reason) const {
    Json choice = {{"index", 0}};
    if (chat) {
      choice["delta"] = std::move(delta_or_text);
    } else {
      choice["text"] = std::move(delta_or_text);
    }
    choice["logprobs"] = choice_logprobs;
    choice["finish_reason"] =
        finish_reason == nullptr ? Json(nullptr) : Json(std::string(finish_reason));
    return choice;
  }
};

ResponseFormatter::ResponseFormatter(const OpenAiRequest& request, std::string model,
                                     const Tokenizer& tokenizer)
    : state_(std::make_unique<State>(request, std::move(model), tokenizer)) {}

ResponseFormatter::~ResponseFormatter() = default;

std::string ResponseFormatter::Events(const GenerationChunk& chunk) {
  State& s = *state_;
  std::string events;
  if (s.chat && !s.role_sent) {
    s.role_sent = true;
    events += Event(s.ChunkObject(
        Json::array({s.Choice({{"role", "assistant"}, {"content", ""}}, nullptr, nullptr)})));
  }
  if (!chunk.token_ids.empty() || !chunk.text.empty()) {
    Json logprobs = nullptr;
    if (s.request.logprobs) {
      logprobs = s.EmptyLogprobs();
      s.AddLogprobs(chunk, logprobs);
    }
    Json content = s.chat ? Json{{"content", chunk.text}} : Json(chunk.text);
    events += Event(s.ChunkObject(Json::array({s.Choice(std::move(content), logprobs, nullptr)})));
  }
  if (chunk.is_final()) {
    s.prompt_tokens = chunk.prompt_tokens;
    s.completion_tokens = chunk.completion_tokens;
    Json empty = s.chat ? Json::object() : Json("");
    events += Event(s.ChunkObject(Json::array(
        {s.Choice(std::move(empty), nullptr, OpenAiFinishReason(chunk.finish_reason))})));
    if (s.request.include_usage) {
      Json usage = s.ChunkObject(Json::array());
      usage["usage"] = s.Usage();
      events += Event(usage);
    }
    events += "data: [DONE]\n\n";
  }
  return events;
}

void ResponseFormatter::Append(const GenerationChunk& chunk) {
  State& s = *state_;
  s.text += chunk.text;
  if (s.request.logprobs) s.AddLogprobs(chunk, s.logprobs);
  if (chunk.is_final()) {
    s.finish_reason = chunk.finish_reason;
    s.prompt_tokens = chunk.prompt_tokens;
    s.completion_tokens = chunk.completion_tokens;
  }
}

std::string ResponseFormatter::Body() const {
  const State& s = *state_;
  const Json logprobs = s.request.logprobs ? s.logprobs : Json(nullptr);
  Json choice = {{"index", 0}};
  if (s.chat) {
    choice["message"] = {{"role", "assistant"}, {"content", s.text}};
  } else {
    choice["text"] = s.text;
  }
  choice["logprobs"] = logprobs;
  choice["finish_reason"] = OpenAiFinishReason(s.finish_reason);
  const Json body = {{"id", s.id},
                     {"object", s.chat ? "chat.completion" : "text_completion"},
                     {"created", s.created},
                     {"model", s.model},
                     {"choices", Json::array({std::move(choice)})},
                     {"usage", s.Usage()}};
  return Dump(body);
}

std::string ErrorEvent(const std::string& error_body) {
  return absl::StrCat("data: ", error_body, "\n\n");
}

}  // namespace ghost::server::http
