#include "engine/runtime/request_defaults.h"

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using ::testing::HasSubstr;

// A tiny Llama whose config vocabulary (300) is larger than its tokenizer's (259), as in
// checkpoints whose embedding table is padded, with an optional generation_config.json.
std::shared_ptr<const Model> LoadModel(const std::string& generation_config = "",
                                       int context = 512) {
  ghost::testing::TinyLlamaSpec spec;
  spec.vocab_size = 300;
  spec.context = context;
  const std::string dir = ghost::testing::MakeTempDir("request_defaults");
  ghost::testing::WriteTinyLlama(dir, spec);
  if (!generation_config.empty()) {
    ghost::testing::WriteFile(dir + "/generation_config.json", generation_config);
  }
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

ClientGenerationRequest TokensRequest(std::vector<std::int32_t> ids) {
  ClientGenerationRequest request;
  request.prompt = std::move(ids);
  return request;
}

std::string InvalidArgumentMessage(const absl::Status& status) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  return std::string(status.message());
}

// Resolves and then validates, as a front end followed by Executor::Enqueue would.
absl::Status ResolveAndValidate(const ClientGenerationRequest& request, const Model& model) {
  absl::StatusOr<GenerationRequest> resolved = ResolveGenerationRequest(request, model);
  if (!resolved.ok()) return resolved.status();
  return ValidateForModel(*resolved, model.config());
}

TEST(RequestDefaultsTest, UnsetFieldsTakeTheEngineDefaultsWithoutGenerationConfig) {
  const std::shared_ptr<const Model> model = LoadModel();
  ASSERT_NE(model, nullptr);
  absl::StatusOr<GenerationRequest> r = ResolveGenerationRequest(TokensRequest({1, 2, 3}), *model);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->prompt_tokens, (std::vector<std::int32_t>{1, 2, 3}));
  EXPECT_EQ(r->sampling.temperature, 1.0f);
  EXPECT_EQ(r->sampling.top_p, 1.0f);
  EXPECT_EQ(r->sampling.top_k, 0);
  EXPECT_EQ(r->sampling.min_p, 0.0f);
  EXPECT_EQ(r->sampling.repetition_penalty, 1.0f);
  EXPECT_EQ(r->sampling.presence_penalty, 0.0f);
  EXPECT_EQ(r->sampling.frequency_penalty, 0.0f);
  EXPECT_FALSE(r->sampling.seed.has_value());
  EXPECT_EQ(r->stopping.max_new_tokens, kDefaultMaxNewTokens);
  EXPECT_EQ(r->stopping.min_new_tokens, 0);
  EXPECT_TRUE(r->stopping.stop.empty());
  EXPECT_FALSE(r->stopping.ignore_eos);
  EXPECT_EQ(r->top_logprobs, 0);
  EXPECT_TRUE(ValidateForModel(*r, model->config()).ok());
}

TEST(RequestDefaultsTest, UnsetFieldsTakeGenerationConfigAndSetFieldsWin) {
  const std::shared_ptr<const Model> model =
      LoadModel(R"({"temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05,
                    "repetition_penalty": 1.1, "max_new_tokens": 20})");
  ASSERT_NE(model, nullptr);
  ClientGenerationRequest request = TokensRequest({5});
  absl::StatusOr<GenerationRequest> r = ResolveGenerationRequest(request, *model);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FLOAT_EQ(r->sampling.temperature, 0.7f);
  EXPECT_FLOAT_EQ(r->sampling.top_p, 0.9f);
  EXPECT_EQ(r->sampling.top_k, 40);
  EXPECT_FLOAT_EQ(r->sampling.min_p, 0.05f);
  EXPECT_FLOAT_EQ(r->sampling.repetition_penalty, 1.1f);
  EXPECT_EQ(r->stopping.max_new_tokens, 20);

  request.sampling.temperature = 0.0f;  // set to the value that is also a type's zero
  request.sampling.top_p = 0.5f;
  request.sampling.top_k = 0;
  request.sampling.min_p = 0.0f;
  request.sampling.repetition_penalty = 1.0f;
  request.sampling.seed = 42;
  request.stopping.max_new_tokens = 7;
  request.stopping.min_new_tokens = 2;
  request.stopping.stop = {"\n"};
  request.stopping.stop_token_ids = {257};
  request.stopping.ignore_eos = true;
  request.top_logprobs = 3;
  r = ResolveGenerationRequest(request, *model);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sampling.temperature, 0.0f);
  EXPECT_EQ(r->sampling.top_p, 0.5f);
  EXPECT_EQ(r->sampling.top_k, 0);
  EXPECT_EQ(r->sampling.min_p, 0.0f);
  EXPECT_EQ(r->sampling.repetition_penalty, 1.0f);
  EXPECT_EQ(r->sampling.seed, 42u);
  EXPECT_EQ(r->stopping.max_new_tokens, 7);
  EXPECT_EQ(r->stopping.min_new_tokens, 2);
  EXPECT_EQ(r->stopping.stop, (std::vector<std::string>{"\n"}));
  EXPECT_EQ(r->stopping.stop_token_ids, (std::vector<std::int32_t>{257}));
  EXPECT_TRUE(r->stopping.ignore_eos);
  EXPECT_EQ(r->top_logprobs, 3);
}

TEST(RequestDefaultsTest, DoSampleFalseMeansGreedyUnlessTheRequestSetsTemperature) {
  const std::shared_ptr<const Model> model =
      LoadModel(R"({"do_sample": false, "temperature": 0.6})");
  ASSERT_NE(model, nullptr);
  ClientGenerationRequest request = TokensRequest({5});
  absl::StatusOr<GenerationRequest> r = ResolveGenerationRequest(request, *model);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sampling.temperature, 0.0f);
  request.sampling.temperature = 0.8f;
  r = ResolveGenerationRequest(request, *model);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FLOAT_EQ(r->sampling.temperature, 0.8f);
}

TEST(RequestDefaultsTest, UnsetMaxNewTokensShrinksToTheContextButASetOneIsRefused) {
  const std::shared_ptr<const Model> model = LoadModel(R"({"max_new_tokens": 100})", 64);
  ASSERT_NE(model, nullptr);
  ClientGenerationRequest request = TokensRequest(std::vector<std::int32_t>(60, 'a'));
  absl::StatusOr<GenerationRequest> r = ResolveGenerationRequest(request, *model);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stopping.max_new_tokens, 4);
  EXPECT_TRUE(ValidateForModel(*r, model->config()).ok());

  request.stopping.max_new_tokens = 5;
  EXPECT_EQ(InvalidArgumentMessage(ResolveAndValidate(request, *model)),
            "prompt (60 tokens) + max_new_tokens (5) exceeds the model's context of 64 tokens");
  // Large enough to overflow prompt + max_new_tokens in an int.
  request.stopping.max_new_tokens = std::numeric_limits<int>::max();
  EXPECT_THAT(InvalidArgumentMessage(ResolveAndValidate(request, *model)),
              HasSubstr("exceeds the model's context of 64 tokens"));

  // A prompt that fills the context gets the prompt's error, not one about max_new_tokens.
  request = TokensRequest(std::vector<std::int32_t>(70, 'a'));
  r = ResolveGenerationRequest(request, *model);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stopping.max_new_tokens, 1);
  EXPECT_EQ(InvalidArgumentMessage(ValidateForModel(*r, model->config())),
            "prompt (70 tokens) exceeds the model's context of 64 tokens");
}

TEST(RequestDefaultsTest, TextIsTokenizedWithTheModelsTokenizer) {
  const std::shared_ptr<const Model> model = LoadModel();
  ASSERT_NE(model, nullptr);
  ClientGenerationRequest request;
  request.prompt = std::string("h\xC3\xA9llo");
  absl::StatusOr<GenerationRequest> r = ResolveGenerationRequest(request, *model);
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<std::vector<std::int32_t>> expected =
      model->tokenizer().Encode("h\xC3\xA9llo", /*parse_special=*/false,
                                /*add_special_tokens=*/true);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(r->prompt_tokens, *expected);
  EXPECT_EQ(r->stopping.max_new_tokens, kDefaultMaxNewTokens);
}

TEST(RequestDefaultsTest, MissingOrEmptyPromptsAreRefused) {
  const std::shared_ptr<const Model> model = LoadModel();
  ASSERT_NE(model, nullptr);
  ClientGenerationRequest request;
  EXPECT_EQ(InvalidArgumentMessage(ResolveGenerationRequest(request, *model).status()),
            "the prompt is empty: give text, token ids or messages");
  request.prompt = std::string();
  EXPECT_EQ(InvalidArgumentMessage(ResolveGenerationRequest(request, *model).status()),
            "the prompt text is empty");
  request.prompt = std::string("ab\xC3");
  EXPECT_EQ(InvalidArgumentMessage(ResolveGenerationRequest(request, *model).status()),
            "the prompt text is not valid UTF-8");
  request.prompt = std::vector<std::int32_t>();
  EXPECT_EQ(InvalidArgumentMessage(ResolveGenerationRequest(request, *model).status()),
            "the prompt's token ids are empty");
}

// Free-form fields are bounded before any work is done on them (TESTPLAN G25).
TEST(RequestDefaultsTest, RequestIdAndPromptTextAreBounded) {
  const std::shared_ptr<const Model> model = LoadModel();
  ASSERT_NE(model, nullptr);
  ClientGenerationRequest request = TokensRequest({1});
  request.request_id = std::string(kMaxRequestIdBytes, 'r');
  EXPECT_TRUE(ResolveGenerationRequest(request, *model).ok());
  request.request_id += 'r';
  EXPECT_EQ(InvalidArgumentMessage(ResolveGenerationRequest(request, *model).status()),
            "request_id is 257 bytes; at most 256 are accepted");

  RequestLimits limits;
  limits.max_prompt_bytes = 8;
  request = ClientGenerationRequest();
  request.prompt = std::string(8, 'p');
  EXPECT_TRUE(ResolveGenerationRequest(request, *model, limits).ok());
  request.prompt = std::string(9, 'p');
  EXPECT_EQ(InvalidArgumentMessage(ResolveGenerationRequest(request, *model, limits).status()),
            "the prompt text is 9 bytes; at most 8 are accepted (max_prompt_bytes)");
  // The default bound: a megabyte.
  request.prompt = std::string(kDefaultMaxPromptBytes + 1, 'p');
  EXPECT_THAT(InvalidArgumentMessage(ResolveGenerationRequest(request, *model).status()),
              HasSubstr("at most 1048576 are accepted"));
}

// A model whose tokenizer's post-processor adds BOS, as Llama's does, with `tokenizer_config`
// as its tokenizer_config.json when given.
std::shared_ptr<const Model> LoadModelWithBos(const std::string& tokenizer_config = "") {
  ghost::testing::TinyLlamaSpec spec;
  const std::string dir = ghost::testing::MakeTempDir("request_defaults_bos");
  ghost::testing::WriteTinyLlama(dir, spec);
  const std::string path = dir + "/tokenizer.json";
  std::ifstream in(path);
  std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string null_processor = "\"post_processor\": null";
  const std::size_t at = json.find(null_processor);
  EXPECT_NE(at, std::string::npos);
  if (at == std::string::npos) return nullptr;
  json.replace(at, null_processor.size(), R"("post_processor": {
      "type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                 {"Sequence": {"id": "A", "type_id": 0}}],
      "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
               {"Sequence": {"id": "A", "type_id": 0}},
               {"Sequence": {"id": "B", "type_id": 1}}],
      "special_tokens": {"<s>": {"id": "<s>", "ids": [256], "tokens": ["<s>"]}}})");
  ghost::testing::WriteFile(path, json);
  if (!tokenizer_config.empty()) {
    ghost::testing::WriteFile(dir + "/tokenizer_config.json", tokenizer_config);
  }
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

// A tokenize endpoint built on TokenizePromptText returns exactly the ids Generate uses:
// BOS added by the post-processor, special-token strings in the text taken literally.
TEST(RequestDefaultsTest, TokenizePromptTextGivesTheIdsGenerateUses) {
  const std::shared_ptr<const Model> model = LoadModelWithBos();
  ASSERT_NE(model, nullptr);
  const std::string text = "<s>hi";
  ClientGenerationRequest request;
  request.prompt = text;
  absl::StatusOr<GenerationRequest> resolved = ResolveGenerationRequest(request, *model);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  const std::vector<std::int32_t> with_bos = {256, '<', 's', '>', 'h', 'i'};
  EXPECT_EQ(resolved->prompt_tokens, with_bos);
  EXPECT_EQ(TokenizePromptText(text, *model), with_bos);
  EXPECT_EQ(TokenizePromptText(text, *model, /*add_special_tokens=*/false),
            (std::vector<std::int32_t>{'<', 's', '>', 'h', 'i'}));
}

// A conversation is rendered with the model's chat template (here the ChatML fallback: the
// model has no tokenizer_config.json) and tokenized without the post-processor's BOS, which a
// template writes itself where the model wants it.
TEST(RequestDefaultsTest, MessagesAreRenderedAndTokenizedWithoutAddingBos) {
  const std::shared_ptr<const Model> model = LoadModelWithBos();
  ASSERT_NE(model, nullptr);
  ASSERT_TRUE(model->chat_template().is_fallback());
  ClientGenerationRequest request;
  request.prompt = std::vector<ChatMessage>{{.role = "system", .content = "be brief"},
                                            {.role = "user", .content = "hi"}};
  const std::string rendered =
      "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
      "<|im_start|>assistant\n";
  absl::StatusOr<GenerationRequest> resolved = ResolveGenerationRequest(request, *model);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->prompt_tokens, TokenizePromptText(rendered, *model, false));
  EXPECT_EQ(resolved->prompt_tokens, TokenizeChatPrompt(rendered, *model));
  EXPECT_NE(resolved->prompt_tokens.front(), 256);

  request.chat.add_generation_prompt = false;
  absl::StatusOr<std::string> text = RenderChatPrompt(
      std::get<std::vector<ChatMessage>>(request.prompt), request.chat, *model, RequestLimits());
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            rendered.substr(0, rendered.size() - std::string("<|im_start|>assistant\n").size()));
}

// A template that writes bos_token itself: the prompt starts with exactly one BOS, and the
// special-token strings the template wrote are the special tokens.
TEST(RequestDefaultsTest, ATemplatesBosIsNotAddedTwice) {
  const std::shared_ptr<const Model> model = LoadModelWithBos(
      R"({"bos_token": "<s>", "eos_token": "</s>",
          "chat_template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}"})");
  ASSERT_NE(model, nullptr);
  ASSERT_FALSE(model->chat_template().is_fallback());
  ClientGenerationRequest request;
  request.prompt = std::vector<ChatMessage>{{.role = "user", .content = "hi"}};
  absl::StatusOr<GenerationRequest> resolved = ResolveGenerationRequest(request, *model);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->prompt_tokens, (std::vector<std::int32_t>{256, 'h', 'i', 257}));
}

TEST(RequestDefaultsTest, BadConversationsAreRefused) {
  const std::shared_ptr<const Model> model = LoadModel();
  ASSERT_NE(model, nullptr);
  ClientGenerationRequest request;
  request.prompt = std::vector<ChatMessage>();
  EXPECT_EQ(InvalidArgumentMessage(ResolveGenerationRequest(request, *model).status()),
            "the conversation has no messages");
  request.prompt = std::vector<ChatMessage>{{.role = "", .content = "x"}};
  EXPECT_EQ(InvalidArgumentMessage(ResolveGenerationRequest(request, *model).status()),
            "message 0 has no role");
  request.prompt = std::vector<ChatMessage>{{.role = "user", .content = "ab\xC3"}};
  EXPECT_EQ(InvalidArgumentMessage(ResolveGenerationRequest(request, *model).status()),
            "message 0 is not valid UTF-8");
  RequestLimits limits;
  limits.max_prompt_bytes = 10;
  request.prompt = std::vector<ChatMessage>{{.role = "user", .content = std::string(7, 'x')}};
  EXPECT_EQ(InvalidArgumentMessage(ResolveGenerationRequest(request, *model, limits).status()),
            "the messages are 11 bytes; at most 10 are accepted (max_prompt_bytes)");
  // Within the bound before rendering, over it after.
  limits.max_prompt_bytes = 12;
  EXPECT_THAT(InvalidArgumentMessage(ResolveGenerationRequest(request, *model, limits).status()),
              HasSubstr("at most 12 are accepted (max_prompt_bytes)"));
}

// One bound, the config's vocab_size: ids the tokenizer lacks but the embedding table holds (the
// model may generate them) are accepted.
TEST(RequestDefaultsTest, PromptTokenIdsAreCheckedAgainstTheConfigVocabulary) {
  const std::shared_ptr<const Model> model = LoadModel();
  ASSERT_NE(model, nullptr);
  ASSERT_EQ(model->tokenizer().vocab_size(), 259);
  EXPECT_TRUE(ResolveAndValidate(TokensRequest({0, 280, 299}), *model).ok());
  EXPECT_EQ(InvalidArgumentMessage(ResolveAndValidate(TokensRequest({1, 300}), *model)),
            "prompt token id 300 is outside the vocabulary [0, 300)");
  EXPECT_EQ(InvalidArgumentMessage(ResolveAndValidate(TokensRequest({-1}), *model)),
            "prompt token id -1 is outside the vocabulary [0, 300)");
}

// Values the client set are passed through and refused by the validation with the field's name.
TEST(RequestDefaultsTest, BadValuesAreRefusedNamingTheField) {
  const std::shared_ptr<const Model> model = LoadModel();
  ASSERT_NE(model, nullptr);
  ClientGenerationRequest request = TokensRequest({1});
  request.sampling.temperature = std::nanf("");
  EXPECT_THAT(InvalidArgumentMessage(ResolveAndValidate(request, *model)),
              HasSubstr("temperature must be a finite number >= 0"));
  request = TokensRequest({1});
  request.sampling.top_p = 0.0f;
  EXPECT_EQ(InvalidArgumentMessage(ResolveAndValidate(request, *model)),
            "top_p must be in (0, 1], got 0");
  request = TokensRequest({1});
  request.sampling.frequency_penalty = -3.0f;
  EXPECT_EQ(InvalidArgumentMessage(ResolveAndValidate(request, *model)),
            "frequency_penalty must be in [-2, 2], got -3");
  request = TokensRequest({1});
  request.stopping.max_new_tokens = 0;
  EXPECT_EQ(InvalidArgumentMessage(ResolveAndValidate(request, *model)),
            "max_new_tokens must be > 0, got 0");
  request = TokensRequest({1});
  request.stopping.max_new_tokens = 4;
  request.stopping.min_new_tokens = 5;
  EXPECT_EQ(InvalidArgumentMessage(ResolveAndValidate(request, *model)),
            "min_new_tokens must be in [0, max_new_tokens=4], got 5");
  request = TokensRequest({1});
  request.stopping.stop_token_ids = {-2};
  EXPECT_THAT(InvalidArgumentMessage(ResolveAndValidate(request, *model)),
              HasSubstr("stop_token_ids must be non-negative token ids"));
  request = TokensRequest({1});
  request.top_logprobs = 21;
  EXPECT_EQ(InvalidArgumentMessage(ResolveAndValidate(request, *model)),
            "top_logprobs must be in [0, 20], got 21");
}

}  // namespace
}  // namespace ghost
