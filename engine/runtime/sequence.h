// One request's generation on its own model session: prefill the prompt, then one token per
// Step() with sampling, stop rules and text decoding. Runs on the scheduler thread only.
#ifndef GHOST_ENGINE_RUNTIME_SEQUENCE_H_
#define GHOST_ENGINE_RUNTIME_SEQUENCE_H_

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "engine/model/model.h"
#include "engine/runtime/request.h"
#include "engine/runtime/sampler.h"
#include "engine/runtime/stop_rules.h"

namespace ghost {

class Sequence {
 public:
  // `request` must be valid and fit the model's context; both must outlive the sequence.
  Sequence(const Model& model, const GenerationRequest& request);

  // Runs the whole prompt through the model in one forward pass.
  [[nodiscard]] absl::Status Prefill();
  // Samples one token and returns its chunk; the chunk is final (finish_reason set, usage
  // filled) when generation ends. A forward error yields a final kError chunk.
  GenerationChunk Step();
  // The final chunk of a request stopped from outside: held-back text and usage.
  GenerationChunk Cancelled();
  // The final chunk of a request that failed with `error`.
  GenerationChunk Failed(absl::Status error) const;

 private:
  void SetUsage(GenerationChunk& chunk) const;

  const Model& model_;
  const GenerationRequest& request_;
  std::unique_ptr<ModelSession> session_;
  Sampler sampler_;
  StopRules stop_rules_;
  StreamDecoder decoder_;
  std::vector<float> logits_;
};

}  // namespace ghost

#endif  // GHOST_ENGINE_RUNTIME_SEQUENCE_H_
