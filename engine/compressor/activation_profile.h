// What the compressor learns from running calibration text through the source model: per MLP
// neuron the largest |SiLU(gate) * up| seen (dead-neuron removal), a sample of |SiLU(gate)|
// rows (gate thresholds), and the second moment of every linear layer's input channels
// (activation-aware quantization, importance.h).
#ifndef GHOST_ENGINE_COMPRESSOR_ACTIVATION_PROFILE_H_
#define GHOST_ENGINE_COMPRESSOR_ACTIVATION_PROFILE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/model/model.h"

namespace ghost::compress {

class ActivationProfile final : public ActivationObserver {
 public:
  // Keeps up to `max_sampled_rows` token rows of |SiLU(gate)| per layer, evenly spread.
  ActivationProfile(int num_layers, std::size_t max_sampled_rows = 1024);

  void OnLinearInput(int layer, LinearInput input, const float* x, std::size_t n,
                     std::size_t cols) override;
  void OnMlp(int layer, const float* silu_gate, const float* up, std::size_t n,
             std::size_t inner) override;

  // max over tokens of |SiLU(gate_j) * up_j|, per neuron j of `layer`.
  const std::vector<float>& max_activation(int layer) const { return layers_[layer].max_product; }
  // E[x_c^2] per input channel c of the linear layers reading `input`; empty if never seen.
  std::vector<float> SecondMoments(int layer, LinearInput input) const;
  // The |SiLU(gate_j)| values of the sampled rows, for neurons j with keep[j].
  std::vector<float> SampledGateMagnitudes(int layer, const std::vector<bool>& keep) const;
  std::int64_t tokens() const { return tokens_; }

 private:
  struct Layer {
    std::vector<float> max_product;
    std::array<std::vector<double>, 4> square_sums;  // by LinearInput
    std::array<std::int64_t, 4> rows{};
    std::vector<float> sampled;  // sampled rows of |SiLU(gate)|, inner values each
    std::int64_t seen = 0;       // token rows seen by OnMlp
    std::int64_t stride = 1;     // every stride-th row is sampled
  };
  const std::size_t max_sampled_rows_;
  std::vector<Layer> layers_;
  std::int64_t tokens_ = 0;
};

}  // namespace ghost::compress

#endif  // GHOST_ENGINE_COMPRESSOR_ACTIVATION_PROFILE_H_
