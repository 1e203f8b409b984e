// The CPU backend's activations: a std::vector<float> that keeps its capacity across steps.
#ifndef GHOST_ENGINE_BACKEND_CPU_CPU_ACTIVATION_H_
#define GHOST_ENGINE_BACKEND_CPU_CPU_ACTIVATION_H_

#include <cstddef>
#include <vector>

#include "engine/backend/backend.h"

namespace ghost {

class CpuActivation final : public Activation {
 public:
  float* data() { return values_.data(); }
  const float* data() const { return values_.data(); }
  float* row(std::size_t r) { return values_.data() + r * cols_; }
  const float* row(std::size_t r) const { return values_.data() + r * cols_; }
  // Makes it [rows, cols]; the values are unspecified, and no memory is freed.
  void Resize(std::size_t rows, std::size_t cols) {
    rows_ = rows;
    cols_ = cols;
    values_.resize(rows * cols);
  }

 private:
  std::vector<float> values_;
};

// The CPU backend's view of an activation it made (CpuBackend::NewActivation).
inline CpuActivation& Host(Activation& a) { return static_cast<CpuActivation&>(a); }
inline const CpuActivation& Host(const Activation& a) {
  return static_cast<const CpuActivation&>(a);
}

}  // namespace ghost

#endif  // GHOST_ENGINE_BACKEND_CPU_CPU_ACTIVATION_H_
