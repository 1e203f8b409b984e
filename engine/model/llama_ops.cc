#include "engine/model/llama_ops.h"

#include <algorithm>
#include <cmath>

namespace ghost {

void RmsNorm(const float* x, std::size_t n, std::size_t dim, const float* weight, double eps,
             float* out) {
  for (std::size_t t = 0; t < n; ++t) {
    const float* row = x + t * dim;
    double sum_squares = 0.0;
    for (std::size_t i = 0; i < dim; ++i) sum_squares += double{row[i]} * row[i];
    const auto scale = static_cast<float>(1.0 / std::sqrt(sum_squares / dim + eps));
    float* dst = out + t * dim;
    for (std::size_t i = 0; i < dim; ++i) dst[i] = row[i] * scale * weight[i];
  }
}

std::vector<double> RopeInverseFrequencies(int head_dim, double theta) {
  std::vector<double> inv_freq(head_dim / 2);
  for (int i = 0; i < head_dim / 2; ++i) {
    inv_freq[i] = std::pow(theta, -2.0 * i / head_dim);
  }
  return inv_freq;
}

void ApplyRope(float* heads, int num_heads, int head_dim, int position,
               const std::vector<double>& inv_freq) {
  const int half = head_dim / 2;
  for (int i = 0; i < half; ++i) {
    const double angle = position * inv_freq[i];
    const auto cos = static_cast<float>(std::cos(angle));
    const auto sin = static_cast<float>(std::sin(angle));
    for (int h = 0; h < num_heads; ++h) {
      float* head = heads + static_cast<std::size_t>(h) * head_dim;
      const float x1 = head[i];
      const float x2 = head[i + half];
      head[i] = x1 * cos - x2 * sin;
      head[i + half] = x2 * cos + x1 * sin;
    }
  }
}

void SiluMul(float* gate, const float* up, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
  }
}

void Attend(const AttentionShape& shape, const float* q, const float* k_cache, const float* v_cache,
            int num_positions, float* scores, float* out) {
  const int head_dim = shape.head_dim;
  const int group = shape.num_heads / shape.num_kv_heads;
  const std::size_t kv_stride = static_cast<std::size_t>(shape.num_kv_heads) * head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  for (int h = 0; h < shape.num_heads; ++h) {
    const float* query = q + static_cast<std::size_t>(h) * head_dim;
    const std::size_t kv_offset = static_cast<std::size_t>(h / group) * head_dim;
    float max_score = -INFINITY;
    for (int s = 0; s < num_positions; ++s) {
      const float* key = k_cache + s * kv_stride + kv_offset;
      float dot = 0.0f;
      for (int d = 0; d < head_dim; ++d) dot += query[d] * key[d];
      scores[s] = dot * scale;
      max_score = std::max(max_score, scores[s]);
    }
    float total = 0.0f;
    for (int s = 0; s < num_positions; ++s) {
      scores[s] = std::exp(scores[s] - max_score);
      total += scores[s];
    }
    float* dst = out + static_cast<std::size_t>(h) * head_dim;
    std::fill(dst, dst + head_dim, 0.0f);
    for (int s = 0; s < num_positions; ++s) {
      const float weight = scores[s] / total;
      const float* value = v_cache + s * kv_stride + kv_offset;
      for (int d = 0; d < head_dim; ++d) dst[d] += weight * value[d];
    }
  }
}

}  // namespace ghost
