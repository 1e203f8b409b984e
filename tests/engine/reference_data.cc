#include "tests/engine/reference_data.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include "nlohmann/json.hpp"

namespace ghost::testing {

const std::vector<std::string>& ReferenceModelNames() {
  static const auto* const kNames =
      new std::vector<std::string>{"llama-f32",  "llama-bf16",  "llama-linear-f32", "qwen2-f32",
                                   "qwen2-bf16", "mistral-f32", "mistral-bf16"};
  return *kNames;
}

std::string ReferenceModelDir(const std::string& name) {
  return std::string(GHOST_REFERENCE_DIR) + "/" + name;
}

ReferenceRun ReadReferenceRun(const std::string& directory) {
  std::ifstream json_file(directory + "/reference.json");
  if (!json_file) throw std::runtime_error("cannot read " + directory + "/reference.json");
  const nlohmann::json json = nlohmann::json::parse(json_file);
  ReferenceRun run;
  run.tokens = json.at("tokens").get<std::vector<std::int32_t>>();
  run.prompt_tokens = json.at("prompt_tokens").get<int>();
  run.vocab_size = json.at("vocab_size").get<int>();
  run.architecture = json.at("architecture").get<std::string>();
  run.dtype = json.at("dtype").get<std::string>();

  const std::string logits_path = directory + "/" + json.at("logits_file").get<std::string>();
  std::ifstream logits_file(logits_path, std::ios::binary);
  run.logits.resize(run.tokens.size() * static_cast<std::size_t>(run.vocab_size));
  logits_file.read(reinterpret_cast<char*>(run.logits.data()),
                   static_cast<std::streamsize>(run.logits.size() * sizeof(double)));
  if (!logits_file || logits_file.peek() != std::char_traits<char>::eof()) {
    throw std::runtime_error(logits_path + " does not hold [tokens, vocab] float64 values");
  }
  return run;
}

double ReferenceTolerance(const std::string& dtype) { return dtype == "float32" ? 1e-4 : 1e-2; }

double MaxRelativeError(const float* ours, const double* ref, std::size_t count) {
  double max_diff = 0.0, max_ref = 0.0;
  for (std::size_t i = 0; i < count; ++i) {
    max_diff = std::max(max_diff, std::abs(ours[i] - ref[i]));
    max_ref = std::max(max_ref, std::abs(ref[i]));
  }
  return max_diff / std::max(max_ref, 1e-30);
}

std::vector<double> LogSoftmax(const double* logits, int vocab) {
  const double max_logit = *std::max_element(logits, logits + vocab);
  double sum = 0.0;
  for (int i = 0; i < vocab; ++i) sum += std::exp(logits[i] - max_logit);
  const double log_sum = max_logit + std::log(sum);
  std::vector<double> out(vocab);
  for (int i = 0; i < vocab; ++i) out[i] = logits[i] - log_sum;
  return out;
}

}  // namespace ghost::testing
