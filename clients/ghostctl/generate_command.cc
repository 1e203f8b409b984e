// ghostctl generate: streams text to stdout as it arrives; logprobs (--logprobs) and the usage
// line go to stderr once the text is complete, so that they never split it on a terminal.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "clients/ghostctl/commands.h"
#include "clients/ghostctl/connection.h"
#include "ghost/v1/inference.grpc.pb.h"

ABSL_FLAG(std::string, prompt, "", "prompt text");
ABSL_FLAG(int, max_new_tokens, 0, "tokens to generate (0: the model's default)");
ABSL_FLAG(double, temperature, NAN, "sampling temperature, 0 = greedy (default: the model's)");
ABSL_FLAG(double, top_p, NAN, "nucleus mass in (0, 1] (default: the model's)");
ABSL_FLAG(int, top_k, -1, "top-k, 0 disables (default: the model's)");
ABSL_FLAG(int64_t, seed, -1, "sampling seed (default: random)");
ABSL_FLAG(std::vector<std::string>, stop, {}, "stop strings, comma-separated");
ABSL_FLAG(int, logprobs, 0,
          "after the text, print each token's logprob and N alternatives (to stderr)");

namespace ghost::ctl {

int RunGenerate() {
  ghost::v1::GenerateRequest request;
  request.set_model(absl::GetFlag(FLAGS_model));
  request.set_text(absl::GetFlag(FLAGS_prompt));
  ghost::v1::SamplingParams& sampling = *request.mutable_sampling();
  if (!std::isnan(absl::GetFlag(FLAGS_temperature))) {
    sampling.set_temperature(static_cast<float>(absl::GetFlag(FLAGS_temperature)));
  }
  if (!std::isnan(absl::GetFlag(FLAGS_top_p))) {
    sampling.set_top_p(static_cast<float>(absl::GetFlag(FLAGS_top_p)));
  }
  if (absl::GetFlag(FLAGS_top_k) >= 0) sampling.set_top_k(absl::GetFlag(FLAGS_top_k));
  if (absl::GetFlag(FLAGS_seed) >= 0) {
    sampling.set_seed(static_cast<uint64_t>(absl::GetFlag(FLAGS_seed)));
  }
  if (absl::GetFlag(FLAGS_max_new_tokens) != 0) {
    request.mutable_stopping()->set_max_new_tokens(absl::GetFlag(FLAGS_max_new_tokens));
  }
  for (const std::string& stop : absl::GetFlag(FLAGS_stop)) {
    request.mutable_stopping()->add_stop(stop);
  }
  request.set_logprobs(absl::GetFlag(FLAGS_logprobs));

  auto stub = ghost::v1::Inference::NewStub(OpenChannel());
  auto context = NewContext(absl::GetFlag(FLAGS_timeout_s));
  auto reader = stub->Generate(context.get(), request);
  ghost::v1::GenerateResponse response;
  std::fputs(request.text().c_str(), stdout);
  std::string finish_reason;
  ghost::v1::Usage usage;
  std::vector<ghost::v1::TokenLogprob> logprobs;
  while (reader->Read(&response)) {
    std::fputs(response.text().c_str(), stdout);
    std::fflush(stdout);
    logprobs.insert(logprobs.end(), response.logprobs().begin(), response.logprobs().end());
    if (!response.finish_reason().empty()) {
      finish_reason = response.finish_reason();
      usage = response.usage();
    }
  }
  const grpc::Status status = reader->Finish();
  std::fputs("\n", stdout);
  std::fflush(stdout);
  for (const ghost::v1::TokenLogprob& lp : logprobs) {
    std::fprintf(stderr, "[token %d logprob %.4f", lp.token_id(), lp.logprob());
    for (const auto& top : lp.top_logprobs()) {
      std::fprintf(stderr, " | %d:%.4f", top.token_id(), top.logprob());
    }
    std::fprintf(stderr, "]\n");
  }
  if (!status.ok()) return ReportError("generate", status);
  std::fprintf(stderr, "[finish_reason=%s prompt_tokens=%d completion_tokens=%d]\n",
               finish_reason.c_str(), usage.prompt_tokens(), usage.completion_tokens());
  return 0;
}

}  // namespace ghost::ctl
