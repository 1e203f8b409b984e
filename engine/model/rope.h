// Rotary position embeddings: the frequency scaling a config asks for (rope_scaling or
// rope_parameters) and the inverse frequencies it yields.
#ifndef GHOST_ENGINE_MODEL_ROPE_H_
#define GHOST_ENGINE_MODEL_ROPE_H_

#include <vector>

namespace ghost {

struct RopeScaling {
  enum class Type {
    kNone,    // "default": theta^(-2i/d)
    kLinear,  // positions divided by factor (position interpolation)
    kLlama3,  // Llama 3.1+: long wavelengths divided by factor, short ones kept, smooth between
  };
  Type type = Type::kNone;
  double factor = 1.0;
  double low_freq_factor = 1.0;              // llama3
  double high_freq_factor = 4.0;             // llama3
  int original_max_position_embeddings = 0;  // llama3: the pre-extension context
};

// inv_freq[i] for i < head_dim / 2: theta^(-2i / head_dim), then scaled as `scaling` says.
std::vector<double> RopeInverseFrequencies(int head_dim, double theta,
                                           const RopeScaling& scaling = {});

}  // namespace ghost

#endif  // GHOST_ENGINE_MODEL_ROPE_H_
