// The Llama-family decoder (LlamaForCausalLM, and Qwen2 and Mistral, which add q/k/v biases
// and a sliding window; architecture.h): pre-norm decoder with RMSNorm, rotary position
// embeddings, grouped-query attention and a SwiGLU MLP. fp32 activations; weights as stored.
#ifndef GHOST_ENGINE_MODEL_LLAMA_H_
#define GHOST_ENGINE_MODEL_LLAMA_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/backend/backend.h"
#include "engine/backend/layer_streamer.h"
#include "engine/model/llama_weights.h"
#include "engine/model/model.h"

namespace ghost {

class LlamaModel final : public Model, public std::enable_shared_from_this<LlamaModel> {
 public:
  // Loads the weights from `checkpoint` for `backend` and checks them against `config`; with a
  // weight budget (options), streams the layers that do not fit, from `directory`'s layer file
  // in options.layer_cache_dir.
  static absl::StatusOr<std::shared_ptr<const Model>> Create(
      ModelConfig config, std::unique_ptr<Tokenizer> tokenizer, ChatTemplate chat_template,
      GenerationDefaults defaults, std::unique_ptr<SafetensorsCheckpoint> checkpoint,
      std::shared_ptr<Backend> backend, const ModelOptions& options = {},
      const std::string& directory = "");

  const ModelConfig& config() const override { return config_; }
  const Tokenizer& tokenizer() const override { return *tokenizer_; }
  const ChatTemplate& chat_template() const override { return chat_template_; }
  const GenerationDefaults& generation_defaults() const override { return defaults_; }
  const ModelSummary& summary() const override { return summary_; }
  std::unique_ptr<ModelRunner> NewRunner() const override;
  Backend& backend() const override { return *backend_; }
  const LayerStreamer* layer_streamer() const override { return streamer_.get(); }

  // The weights. Each layer's unit may be rebound (WeightUnit::Rebind, e.g. by a layer
  // streamer) while no runner is in a step; the handles follow.
  const LlamaWeights& weights() const { return weights_; }
  const std::vector<double>& rope_inv_freq() const { return rope_inv_freq_; }

  // Streaming: layers from first_streamed_layer() on go through the streamer, one forward at a
  // time (the units are rebound to the slots), under the lock of step_mutex().
  LayerStreamer* streamer() const { return streamer_.get(); }
  std::size_t first_streamed_layer() const { return first_streamed_layer_; }
  absl::Mutex& step_mutex() const { return step_mu_; }

 private:
  LlamaModel() = default;

  ModelConfig config_;
  std::shared_ptr<Backend> backend_;
  std::unique_ptr<Tokenizer> tokenizer_;
  ChatTemplate chat_template_;
  GenerationDefaults defaults_;
  ModelSummary summary_;
  LlamaWeights weights_;
  std::vector<double> rope_inv_freq_;
  // Declared after weights_: stopped (no copy in flight) before the units go.
  std::unique_ptr<LayerStreamer> streamer_;
  std::size_t first_streamed_layer_ = 0;
  mutable absl::Mutex step_mu_;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_MODEL_LLAMA_H_
