// A loaded language model: configuration, tokenizer, generation defaults and weights, plus the
// forward pass. Immutable after Load(); many sessions may run it concurrently.
#ifndef GHOST_ENGINE_MODEL_MODEL_H_
#define GHOST_ENGINE_MODEL_MODEL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/model/config.h"
#include "engine/model/tokenizer.h"

namespace ghost {

// Defaults from generation_config.json; unset fields fall back to the engine's.
struct GenerationDefaults {
  std::optional<float> temperature, top_p, min_p, repetition_penalty;
  std::optional<int> top_k, max_new_tokens;
  std::optional<bool> do_sample;  // false => greedy unless the request sets temperature
};

// Per-sequence state of the forward pass (the KV cache of one sequence).
class ModelSession {
 public:
  virtual ~ModelSession() = default;
  // Runs `tokens` at positions [num_tokens(), num_tokens() + tokens.size()) and appends them to
  // the cache. Writes logits for every input position into `logits` ([tokens.size(), vocab])
  // when all_logits is true, else only for the last one ([vocab]). INVALID_ARGUMENT when the
  // context would overflow or a token id is out of range.
  [[nodiscard]] virtual absl::Status Forward(absl::Span<const std::int32_t> tokens, bool all_logits,
                                             std::vector<float>& logits) = 0;
  virtual int num_tokens() const = 0;
};

struct ModelSummary {
  std::string architecture;  // e.g. "LlamaForCausalLM"
  std::int64_t parameters = 0;
  std::string dtype;  // stored precision: "bf16", "f16", "f32"
  std::int64_t weight_bytes = 0;
  std::string tokenizer;  // "byte-level", ...
  int context_length = 0;
  int vocab_size = 0;
};

class Model {
 public:
  // Loads an HF model directory (config.json, model.safetensors, tokenizer.json, optional
  // generation_config.json). Errors name the file and the problem.
  static absl::StatusOr<std::shared_ptr<const Model>> Load(const std::string& directory);
  virtual ~Model() = default;

  virtual const ModelConfig& config() const = 0;
  virtual const Tokenizer& tokenizer() const = 0;
  virtual const GenerationDefaults& generation_defaults() const = 0;
  virtual const ModelSummary& summary() const = 0;
  virtual std::unique_ptr<ModelSession> NewSession() const = 0;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_MODEL_MODEL_H_
