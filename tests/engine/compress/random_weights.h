// Seeded synthetic weights for the compress tests.
#ifndef GHOST_TESTS_ENGINE_COMPRESS_RANDOM_WEIGHTS_H_
#define GHOST_TESTS_ENGINE_COMPRESS_RANDOM_WEIGHTS_H_

#include <cstdint>
#include <random>
#include <vector>

namespace ghost::compress::testing {

inline std::vector<float> GaussianWeights(std::size_t count, std::uint64_t seed,
                                          float stddev = 0.02f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> weights(count);
  for (float& w : weights) w = normal(rng);
  return weights;
}

// Heavier tails than Gaussian, like trained LLM weights.
inline std::vector<float> StudentTWeights(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::student_t_distribution<float> t5(5.0f);
  std::vector<float> weights(count);
  for (float& w : weights) w = 0.02f * t5(rng);
  return weights;
}

}  // namespace ghost::compress::testing

#endif  // GHOST_TESTS_ENGINE_COMPRESS_RANDOM_WEIGHTS_H_
