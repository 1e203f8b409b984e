// A gated model whose linear layers stay fp16 (no quantized tensors): the loader keeps the
// fp16 matrices, GhostGate zeroes the SiLU(gate) values at or under each layer's threshold and
// the sparse MLP reads the fp16 up and down_t rows of the neurons left. Checked end to end
// against the double-precision reference forward with the same gate rule.
#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "engine/model/model.h"
#include "gtest/gtest.h"
#include "tests/engine/test_model.h"

namespace ghost {
namespace {

using ::ghost::testing::ReferenceLlamaForward;
using ::ghost::testing::ReferenceMlpTrace;
using ::ghost::testing::TensorMap;
using ::ghost::testing::TinyLlamaSpec;

constexpr int kTokens = 19;
constexpr int kPromptTokens = 13;  // The rest are decoded one at a time.

TinyLlamaSpec F16Spec() {
  TinyLlamaSpec spec;
  spec.dtype = "F16";
  spec.hidden_size = 40;  // Rows that end in a partial vector (16 + 16 + 8 fp16 values).
  spec.intermediate_size = 67;
  spec.seed = 11;
  return spec;
}

std::vector<std::int32_t> SomeTokens(int count, int vocab) {
  std::vector<std::int32_t> tokens;
  for (int i = 0; i < count; ++i) tokens.push_back((i * 37 + 11) % vocab);
  return tokens;
}

// max |a - b| relative to the largest |b|.
template <typename Reference>
double RelativeError(const std::vector<float>& a, const std::vector<Reference>& b) {
  EXPECT_EQ(a.size(), b.size());
  double max_diff = 0.0, max_ref = 0.0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    max_diff = std::max(max_diff, std::abs(a[i] - static_cast<double>(b[i])));
    max_ref = std::max(max_ref, std::abs(static_cast<double>(b[i])));
  }
  return max_diff / std::max(max_ref, 1e-30);
}

std::vector<double> ReferenceRow(const std::vector<double>& logits, int row, int vocab) {
  return {logits.begin() + std::ptrdiff_t{row} * vocab,
          logits.begin() + std::ptrdiff_t{row + 1} * vocab};
}

struct PlacedGates {
  std::vector<float> thresholds;
  double margin = 1e30;  // The least distance of any |SiLU(gate)| from its layer's threshold.
};

// Places each layer's threshold in the middle of the widest gap between neighbouring
// |SiLU(gate)| values of the models in `models`, among the middle fifth of them (so about half
// the neurons are gated off), where every neuron of every token falls on the same side in all
// the models. The layers before are gated as the engine gates them. Rounding that moves a
// value by less than the margin then changes no neuron's fate.
PlacedGates PlaceGates(TinyLlamaSpec spec, const std::vector<const TensorMap*>& models,
                       const std::vector<std::int32_t>& tokens) {
  PlacedGates gates;
  spec.gate_thresholds.assign(spec.num_layers, 0.0f);
  for (int l = 0; l < spec.num_layers; ++l) {
    std::vector<std::vector<double>> magnitudes;  // per model, [tokens * inner]
    std::vector<double> sorted;
    for (const TensorMap* weights : models) {
      ReferenceMlpTrace trace;
      ReferenceLlamaForward(spec, *weights, tokens, &trace);
      magnitudes.push_back(trace.silu_gate_magnitudes[l]);
      sorted.insert(sorted.end(), magnitudes.back().begin(), magnitudes.back().end());
    }
    std::sort(sorted.begin(), sorted.end());
    const auto same_fate_everywhere = [&](double threshold) {
      for (std::size_t i = 0; i < magnitudes[0].size(); ++i) {
        for (const std::vector<double>& model : magnitudes) {
          if ((model[i] > threshold) != (magnitudes[0][i] > threshold)) return false;
        }
      }
      return true;
    };
    double widest = 0.0;
    for (std::size_t i = 2 * sorted.size() / 5; i + 1 < 3 * sorted.size() / 5; ++i) {
      const double threshold = (sorted[i] + sorted[i + 1]) / 2;
      if (sorted[i + 1] - sorted[i] > widest && same_fate_everywhere(threshold)) {
        widest = sorted[i + 1] - sorted[i];
        spec.gate_thresholds[l] = static_cast<float>(threshold);
      }
    }
    gates.margin = std::min(gates.margin, widest / 2);
  }
  gates.thresholds = spec.gate_thresholds;
  return gates;
}

// Sessions keep keys and values in fp32, so that the weights' format and the gates are all
// that differ from the reference (a bf16 cache has its own tests in llama_test).
std::unique_ptr<ModelSession> Session(const Model& model) {
  return model.NewSession(KvDtype::kF32);
}

std::shared_ptr<const Model> WriteAndLoad(const TinyLlamaSpec& spec) {
  const std::string dir = ghost::testing::MakeTempDir("gated");
  ghost::testing::WriteTinyLlama(dir, spec);
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(dir);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

// fp32 rounding in the engine moves a gate value by about 1e-6 here; a margin far above that
// keeps the engine's active neurons exactly the reference's.
constexpr double kMinMargin = 1e-4;

TEST(GatedF16ModelTest, LoadsGatedAndKeepsFp16Matrices) {
  TinyLlamaSpec spec = F16Spec();
  TensorMap weights;
  ghost::testing::TinyLlamaTensors(spec, &weights);
  const std::vector<std::int32_t> tokens = SomeTokens(kTokens, spec.vocab_size);
  const PlacedGates gates = PlaceGates(spec, {&weights}, tokens);
  ASSERT_GT(gates.margin, kMinMargin);
  spec.gate_thresholds = gates.thresholds;
  std::shared_ptr<const Model> model = WriteAndLoad(spec);
  ASSERT_NE(model, nullptr);

  ASSERT_TRUE(model->config().quantization.has_value());
  EXPECT_TRUE(model->config().quantization->gated());
  EXPECT_EQ(model->config().quantization->gate_thresholds, gates.thresholds);
  EXPECT_EQ(model->summary().dtype, "f16");
  // Every matrix stays fp16 (2 bytes); only the norm vectors are widened to fp32.
  const std::int64_t norms = (2 * spec.num_layers + 1) * spec.hidden_size;
  const std::int64_t matrices = model->summary().parameters - norms;
  EXPECT_EQ(model->summary().weight_bytes, matrices * 2 + norms * 4);

  // The gates pass exactly the neuron-token pairs the reference passes.
  ReferenceMlpTrace trace;
  ReferenceLlamaForward(spec, weights, tokens, &trace);
  std::int64_t passed = 0;
  for (int l = 0; l < spec.num_layers; ++l) {
    for (double magnitude : trace.silu_gate_magnitudes[l]) {
      passed += magnitude > gates.thresholds[l];
    }
  }
  std::unique_ptr<ModelSession> session = Session(*model);
  std::vector<float> logits;
  ASSERT_TRUE(session->Forward(tokens, false, logits).ok());
  EXPECT_EQ(session->mlp_activity().total,
            std::int64_t{kTokens} * spec.intermediate_size * spec.num_layers);
  EXPECT_EQ(session->mlp_activity().active, passed);
  // About half gated off: the sparse path really skips rows.
  EXPECT_GT(passed, session->mlp_activity().total / 4);
  EXPECT_LT(passed, 3 * session->mlp_activity().total / 4);
}

TEST(GatedF16ModelTest, MatchesDoubleReferenceWithTheSameGateRule) {
  TinyLlamaSpec spec = F16Spec();
  TensorMap weights;
  ghost::testing::TinyLlamaTensors(spec, &weights);
  const std::vector<std::int32_t> tokens = SomeTokens(kTokens, spec.vocab_size);
  const PlacedGates gates = PlaceGates(spec, {&weights}, tokens);
  ASSERT_GT(gates.margin, kMinMargin);
  const std::vector<double> ungated = ReferenceLlamaForward(spec, weights, tokens);
  spec.gate_thresholds = gates.thresholds;
  const std::vector<double> reference = ReferenceLlamaForward(spec, weights, tokens);
  std::shared_ptr<const Model> model = WriteAndLoad(spec);
  ASSERT_NE(model, nullptr);

  // The gates change the logits far beyond the tolerance below, so a forward that ignored
  // them (or gated other neurons) could not pass.
  std::vector<float> reference_f32(reference.begin(), reference.end());
  EXPECT_GT(RelativeError(reference_f32, ungated), 1e-2);

  // The same fp16 values summed in fp32 instead of fp64: as close as the dense models get
  // (llama_test).
  constexpr double kTolerance = 1e-4;
  const int vocab = spec.vocab_size;
  std::unique_ptr<ModelSession> session = Session(*model);
  std::vector<float> logits;
  ASSERT_TRUE(
      session->Forward(absl::MakeConstSpan(tokens).first(kPromptTokens), true, logits).ok());
  const std::vector<double> prompt_reference(reference.begin(),
                                             reference.begin() + kPromptTokens * vocab);
  EXPECT_LT(RelativeError(logits, prompt_reference), kTolerance);
  for (int t = kPromptTokens; t < kTokens; ++t) {
    ASSERT_TRUE(session->Forward({&tokens[t], 1}, false, logits).ok());
    EXPECT_LT(RelativeError(logits, ReferenceRow(reference, t, vocab)), kTolerance)
        << "decoded token " << t;
  }
}

// Greedy continuation of `prompt`; `all_logits` receives every step's logits, concatenated.
std::vector<std::int32_t> Greedy(const Model& model, const std::vector<std::int32_t>& prompt,
                                 int new_tokens, std::vector<float>* all_logits) {
  std::unique_ptr<ModelSession> session = Session(model);
  std::vector<std::int32_t> out;
  std::vector<float> logits;
  absl::Span<const std::int32_t> next = prompt;
  for (int i = 0; i < new_tokens; ++i) {
    EXPECT_TRUE(session->Forward(next, false, logits).ok());
    all_logits->insert(all_logits->end(), logits.begin(), logits.end());
    out.push_back(
        static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
    next = {&out.back(), 1};
  }
  return out;
}

TEST(GatedF16ModelTest, ZeroThresholdsGenerateLikeTheUngatedModel) {
  TinyLlamaSpec ungated_spec = F16Spec();
  TinyLlamaSpec gated_spec = ungated_spec;
  gated_spec.gate_thresholds.assign(gated_spec.num_layers, 0.0f);
  std::shared_ptr<const Model> ungated = WriteAndLoad(ungated_spec);
  std::shared_ptr<const Model> gated = WriteAndLoad(gated_spec);
  ASSERT_NE(ungated, nullptr);
  ASSERT_NE(gated, nullptr);
  ASSERT_TRUE(gated->config().quantization.has_value());
  EXPECT_TRUE(gated->config().quantization->gated());
  EXPECT_FALSE(ungated->config().quantization.has_value());

  const std::vector<std::int32_t> prompt = SomeTokens(5, ungated_spec.vocab_size);
  constexpr int kNewTokens = 24;
  std::vector<float> ungated_logits, gated_logits;
  const std::vector<std::int32_t> expected = Greedy(*ungated, prompt, kNewTokens, &ungated_logits);
  EXPECT_EQ(Greedy(*gated, prompt, kNewTokens, &gated_logits), expected);
  // The dense and the sparse MLP sum the same products in another order.
  EXPECT_LT(RelativeError(gated_logits, ungated_logits), 1e-5);
  // The greedy run is not stuck on one token.
  EXPECT_GT(std::set<std::int32_t>(expected.begin(), expected.end()).size(), 3u);
}

TEST(GatedF16ModelTest, Fp32AndFp16CopiesGiveCloseLogits) {
  TinyLlamaSpec f16_spec = F16Spec();
  TinyLlamaSpec f32_spec = f16_spec;
  f32_spec.dtype = "F32";  // The same random draws, not rounded to fp16.
  TensorMap f16_weights, f32_weights;
  ghost::testing::TinyLlamaTensors(f16_spec, &f16_weights);
  ghost::testing::TinyLlamaTensors(f32_spec, &f32_weights);
  const std::vector<std::int32_t> tokens = SomeTokens(kTokens, f16_spec.vocab_size);
  // Thresholds clear of both copies' values: rounding to fp16 gates no other neuron.
  const PlacedGates gates = PlaceGates(f16_spec, {&f16_weights, &f32_weights}, tokens);
  ASSERT_GT(gates.margin, kMinMargin);
  f16_spec.gate_thresholds = f32_spec.gate_thresholds = gates.thresholds;
  std::shared_ptr<const Model> f16 = WriteAndLoad(f16_spec);
  std::shared_ptr<const Model> f32 = WriteAndLoad(f32_spec);
  ASSERT_NE(f16, nullptr);
  ASSERT_NE(f32, nullptr);
  EXPECT_EQ(f16->summary().dtype, "f16");
  EXPECT_EQ(f32->summary().dtype, "f32");

  std::vector<float> f16_logits, f32_logits;
  ASSERT_TRUE(Session(*f16)->Forward(tokens, true, f16_logits).ok());
  ASSERT_TRUE(Session(*f32)->Forward(tokens, true, f32_logits).ok());
  // fp16 keeps 11 significant bits: each weight moves by up to 2^-12 of itself, and the
  // logits by ~4e-3 of their largest magnitude here (as much without gates), since no neuron
  // changes its fate.
  EXPECT_LT(RelativeError(f16_logits, f32_logits), 1e-2);
}

}  // namespace
}  // namespace ghost
