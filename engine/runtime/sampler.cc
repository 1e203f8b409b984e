#include "engine/runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace ghost {
namespace {

std::uint64_t InitialSeed(const std::optional<std::uint64_t>& seed) {
  if (seed) return *seed;
  std::random_device device;
  return (std::uint64_t{device()} << 32) ^ device();
}

std::int32_t ArgMax(const std::vector<float>& values) {
  return static_cast<std::int32_t>(std::max_element(values.begin(), values.end()) - values.begin());
}

}  // namespace

std::vector<float> LogSoftmax(absl::Span<const float> logits) {
  const double max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float v : logits) sum += std::exp(double{v} - max_logit);
  const double log_sum = std::log(sum);
  std::vector<float> out(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i) {
    out[i] = static_cast<float>(double{logits[i]} - max_logit - log_sum);
  }
  return out;
}

Sampler::Sampler(const SamplingOptions& options, absl::Span<const std::int32_t> prompt_tokens)
    : options_(options),
      rng_(InitialSeed(options.seed)),
      seen_(prompt_tokens.begin(), prompt_tokens.end()) {}

double Sampler::Uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

void Sampler::ApplyPenalties(std::vector<float>& logits) const {
  const auto vocab = static_cast<std::int32_t>(logits.size());
  if (options_.repetition_penalty != 1.0f) {
    for (std::int32_t id : seen_) {
      if (id < 0 || id >= vocab) continue;
      float& v = logits[id];
      v = v > 0 ? v / options_.repetition_penalty : v * options_.repetition_penalty;
    }
  }
  if (options_.presence_penalty != 0.0f || options_.frequency_penalty != 0.0f) {
    for (const auto& [id, count] : output_counts_) {
      if (id < 0 || id >= vocab) continue;
      logits[id] -= options_.frequency_penalty * count + options_.presence_penalty;
    }
  }
}

std::int32_t Sampler::Draw(const std::vector<float>& logits) {
  const float temperature = options_.temperature;
  // Candidates best first when a filter needs the order; only the top_k prefix when top-k is
  // on. Plain sampling skips the sort, which matters for large vocabularies.
  order_.resize(logits.size());
  std::iota(order_.begin(), order_.end(), 0);
  const auto better = [&logits](std::int32_t a, std::int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::size_t kept = order_.size();
  if (options_.top_k > 0 && static_cast<std::size_t>(options_.top_k) < kept) {
    kept = options_.top_k;
    std::partial_sort(order_.begin(), order_.begin() + kept, order_.end(), better);
  } else if (options_.top_p < 1.0f || options_.min_p > 0.0f) {
    std::sort(order_.begin(), order_.end(), better);
  }
  // Probabilities over the kept candidates (suppressed tokens are -inf and get 0).
  double max_logit = -std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < kept; ++i) max_logit = std::max<double>(max_logit, logits[order_[i]]);
  std::vector<double>& probs = probs_;  // reused across calls
  probs.resize(kept);
  double total = 0.0;
  for (std::size_t i = 0; i < kept; ++i) {
    probs[i] = std::exp((double{logits[order_[i]]} - max_logit) / temperature);
    total += probs[i];
  }
  if (options_.top_p < 1.0f) {
    double mass = 0.0;
    std::size_t i = 0;
    while (i < kept && mass < options_.top_p * total) mass += probs[i++];
    kept = std::max<std::size_t>(i, 1);
  }
  if (options_.min_p > 0.0f) {
    const double threshold = options_.min_p * probs[0];  // probs[0] is the most likely
    std::size_t i = 1;
    while (i < kept && probs[i] >= threshold) ++i;
    kept = i;
  }
  total = std::accumulate(probs.begin(), probs.begin() + kept, 0.0);
  double target = Uniform() * total;
  for (std::size_t i = 0; i < kept; ++i) {
    target -= probs[i];
    if (target < 0) return order_[i];
  }
  // Rounding left a sliver of mass: take the last candidate that has any probability.
  while (kept > 1 && probs[kept - 1] == 0.0) --kept;
  return order_[kept - 1];
}

std::int32_t Sampler::Sample(absl::Span<const float> logits,
                             absl::Span<const std::int32_t> suppressed, int top_logprobs,
                             TokenLogprob* logprob) {
  work_.assign(logits.begin(), logits.end());
  ApplyPenalties(work_);
  const auto vocab = static_cast<std::int32_t>(work_.size());
  for (std::int32_t id : suppressed) {
    if (id >= 0 && id < vocab) work_[id] = -std::numeric_limits<float>::infinity();
  }
  const std::int32_t token = options_.temperature == 0.0f ? ArgMax(work_) : Draw(work_);

  if (logprob != nullptr && top_logprobs > 0) {
    const std::vector<float> log_probs = LogSoftmax(logits);
    logprob->token_id = token;
    logprob->logprob = log_probs[token];
    std::vector<std::int32_t> best(log_probs.size());
    std::iota(best.begin(), best.end(), 0);
    const std::size_t k = std::min<std::size_t>(top_logprobs, best.size());
    std::partial_sort(best.begin(), best.begin() + k, best.end(),
                      [&](std::int32_t a, std::int32_t b) { return log_probs[a] > log_probs[b]; });
    logprob->top.clear();
    for (std::size_t i = 0; i < k; ++i) logprob->top.emplace_back(best[i], log_probs[best[i]]);
  }
  seen_.insert(token);
  ++output_counts_[token];
  return token;
}

}  // namespace ghost
