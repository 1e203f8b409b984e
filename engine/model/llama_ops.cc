#include "engine/model/llama_ops.h"

#include <algorithm>
#include <cmath>

#include "engine/model/weight_matrix.h"

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

void AddBias(float* rows, std::size_t n, std::size_t dim, const float* bias) {
  for (std::size_t t = 0; t < n; ++t) {
    float* row = rows + t * dim;
    for (std::size_t c = 0; c < dim; ++c) row[c] += bias[c];
  }
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

void CausalAttention(const AttentionShape& shape, const float* q, std::size_t n, int first,
                     const PagedKvView& kv, AttentionScratch& scratch, float* out) {
  const std::size_t head_dim = shape.head_dim;
  const std::size_t group = shape.num_heads / shape.num_kv_heads;
  const std::size_t positions = first + n;
  const std::size_t q_stride = shape.num_heads * head_dim;
  const std::size_t kv_stride = shape.num_kv_heads * head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const std::size_t rows = group * n;  // (query head in group, position), head-major
  scratch.queries.resize(rows * head_dim);
  scratch.keys.resize(positions * head_dim);
  scratch.values_t.resize(head_dim * positions);
  scratch.scores.resize(rows * positions);
  scratch.outputs.resize(rows * head_dim);

  for (int kv_head = 0; kv_head < shape.num_kv_heads; ++kv_head) {
    // Contiguous copies: K [positions, head_dim], V transposed [head_dim, positions], and the
    // group's queries [rows, head_dim].
    for (std::size_t s = 0; s < positions; ++s) {
      const std::size_t offset = (s % kv.block_tokens) * kv_stride + kv_head * head_dim;
      const float* key = kv.key_blocks[s / kv.block_tokens] + offset;
      const float* value = kv.value_blocks[s / kv.block_tokens] + offset;
      std::copy_n(key, head_dim, &scratch.keys[s * head_dim]);
      for (std::size_t d = 0; d < head_dim; ++d) scratch.values_t[d * positions + s] = value[d];
    }
    for (std::size_t g = 0; g < group; ++g) {
      const std::size_t head = kv_head * group + g;
      for (std::size_t t = 0; t < n; ++t) {
        std::copy_n(q + t * q_stride + head * head_dim, head_dim,
                    &scratch.queries[(g * n + t) * head_dim]);
      }
    }
    const WeightMatrix keys{WeightFormat::kF32, scratch.keys.data(), positions, head_dim};
    MatMul(scratch.queries.data(), rows, keys, scratch.scores.data());
    for (std::size_t row = 0; row < rows; ++row) {
      float* scores = &scratch.scores[row * positions];
      const std::size_t visible = first + row % n + 1;  // causal: up to its own position
      const std::size_t window = shape.sliding_window;
      const std::size_t oldest = window > 0 && visible > window ? visible - window : 0;
      float max_score = -INFINITY;
      for (std::size_t s = oldest; s < visible; ++s) {
        max_score = std::max(max_score, scores[s] * scale);
      }
      float total = 0.0f;
      for (std::size_t s = oldest; s < visible; ++s) {
        scores[s] = std::exp(scores[s] * scale - max_score);
        total += scores[s];
      }
      for (std::size_t s = oldest; s < visible; ++s) scores[s] /= total;
      std::fill(scores, scores + oldest, 0.0f);
      std::fill(scores + visible, scores + positions, 0.0f);
    }
    const WeightMatrix values_t{WeightFormat::kF32, scratch.values_t.data(), head_dim, positions};
    MatMul(scratch.scores.data(), rows, values_t, scratch.outputs.data());
    for (std::size_t g = 0; g < group; ++g) {
      const std::size_t head = kv_head * group + g;
      for (std::size_t t = 0; t < n; ++t) {
        std::copy_n(&scratch.outputs[(g * n + t) * head_dim], head_dim,
                    out + t * q_stride + head * head_dim);
      }
    }
  }
}

}  // namespace ghost
