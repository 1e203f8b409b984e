// ghostbench gpu's decode rows: a random Llama-3-8B-shape model made directly as CUDA weight
// units (one host copy of each matrix shape's random bytes serves every layer), decoded through
// the Backend ops in the order the forward (engine/model/llama.cc) issues them, resident or with
// its trailing layers streamed through the layer streamer as a model under a weight budget does.
// Streamed layers keep their device copies here (unused while streaming) so that one upload of
// the model serves every budget: what is measured is the streamed step, not the memory saved.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/gpu_bench.h"
#include "engine/backend/backend.h"
#include "engine/backend/kv_cache.h"
#include "engine/backend/layer_streamer.h"
#include "engine/compress/fp16.h"
#include "engine/formats/packing.h"
#include "engine/model/weight_budget.h"
#include "kernels/cpu/matmul.h"

namespace ghost::bench {
namespace {

struct Shape {
  int hidden, layers, heads, kv_heads, head_dim, inner, vocab;
};

// One matrix's random contents, shared by every layer that has a matrix of its shape.
struct RandomMatrix {
  std::size_t rows = 0, cols = 0;
  std::vector<std::uint16_t> bf16;
  compress::QuantizedMatrix quant;

  UnitTensorSource Source(const std::string& name) const {
    UnitTensorSource source;
    source.name = name;
    source.rows = rows;
    source.cols = cols;
    if (quant.rows > 0) {
      source.kind = UnitTensorSource::Kind::kQuant;
      source.format = quant.format;
      source.quant = quant;
    } else {
      source.kind = UnitTensorSource::Kind::kDense;
      source.format = WeightFormat::kBF16;
      source.bytes = reinterpret_cast<const std::uint8_t*>(bf16.data());
    }
    return source;
  }
};

RandomMatrix MakeMatrix(std::size_t rows, std::size_t cols, bool ternary, std::mt19937& rng) {
  RandomMatrix m;
  m.rows = rows;
  m.cols = cols;
  if (!ternary) {
    std::normal_distribution<float> normal(0.0f, 0.02f);
    m.bf16.resize(rows * cols);
    for (auto& v : m.bf16) v = kernels::F32ToBf16(normal(rng));
    return m;
  }
  compress::QuantizedMatrix& q = m.quant;
  q.rows = rows;
  q.cols = cols;
  q.format = WeightFormat::kTernary2Bit;
  q.block_size = 64;
  q.codes.resize(rows * q.code_bytes_per_row());
  std::uniform_int_distribution<int> trit(0, 2);
  for (auto& byte : q.codes) {
    byte = static_cast<std::uint8_t>(trit(rng) | trit(rng) << 2 | trit(rng) << 4 | trit(rng) << 6);
  }
  q.scales.assign(rows * q.blocks_per_row(), compress::F32ToF16(0.01f));
  return m;
}

std::vector<float> Ones(int n) { return std::vector<float>(n, 1.0f); }

// The model on the device: one unit per decoder layer, and the embedding, head and final norm.
struct DeviceModel {
  Shape shape;
  std::vector<std::unique_ptr<WeightUnit>> layers;
  std::unique_ptr<WeightUnit> head;
  double weight_bytes_per_step = 0;  // every layer, the head, one embedding row per token
};

// `steps` timed decode steps (after two warm-up steps) of `batch` sequences; layers from
// `first_streamed` on go through `streamer` when there is one.
absl::StatusOr<double> TimeDecode(Backend& backend, const DeviceModel& model, int batch, int steps,
                                  LayerStreamer* streamer, std::size_t first_streamed) {
  const Shape& s = model.shape;
  const KvCacheShape kv_shape{s.layers, s.kv_heads, s.head_dim};
  const int warmup = 2;
  const int blocks_each = PagedKvCache::BlocksForTokens(warmup + steps);
  absl::StatusOr<std::unique_ptr<KvStorage>> storage = backend.NewKvStorage(
      PagedKvCache::StorageBytes(kv_shape, blocks_each * batch, KvDtype::kBf16));
  if (!storage.ok()) return storage.status();
  PagedKvCache cache(kv_shape, blocks_each * batch, KvDtype::kBf16, *std::move(storage));
  std::vector<KvBlockTable> tables(batch);

  std::vector<double> inv_freq(s.head_dim / 2);
  for (std::size_t i = 0; i < inv_freq.size(); ++i) {
    inv_freq[i] = std::pow(500000.0, -2.0 * static_cast<double>(i) / s.head_dim);
  }
  const AttentionShape attention{s.heads, s.kv_heads, s.head_dim, 0};
  auto x = backend.NewActivation(), h = backend.NewActivation(), r = backend.NewActivation(),
       q = backend.NewActivation(), k = backend.NewActivation(), v = backend.NewActivation(),
       a = backend.NewActivation(), g = backend.NewActivation(), u = backend.NewActivation(),
       cos = backend.NewActivation(), sin = backend.NewActivation(),
       normed = backend.NewActivation();
  std::vector<std::int32_t> tokens(batch);
  std::vector<std::size_t> rows(batch);
  std::vector<float> logits;
  const WeightUnit& head = *model.head;

  const auto layer = [&](int l, const std::vector<StepSequence>& sequences) {
    const WeightUnit& unit = *model.layers[l];
    if (l == 0) {
      backend.RmsNorm(*x, unit.vector(0), 1e-5f, *h);
    } else {
      backend.AddRmsNorm(*x, *r, unit.vector(0), 1e-5f, *h);
    }
    const WeightMatrix* qkv[] = {&unit.matrix(2), &unit.matrix(3), &unit.matrix(4)};
    Activation* qkv_out[] = {q.get(), k.get(), v.get()};
    backend.LinearShared(*h, qkv, qkv_out);
    backend.RopeAndStoreKv(l, attention, *cos, *sin, sequences, *q, *k, *v, cache);
    backend.Attention(l, attention, *q, sequences, cache, *a);
    backend.Linear(*a, unit.matrix(5), *r);
    backend.AddRmsNorm(*x, *r, unit.vector(1), 1e-5f, *h);
    const WeightMatrix* gate_up[] = {&unit.matrix(6), &unit.matrix(7)};
    Activation* gate_up_out[] = {g.get(), u.get()};
    backend.LinearShared(*h, gate_up, gate_up_out);
    backend.SiluMul(*g, *u);
    backend.Linear(*g, unit.matrix(8), *r);
  };
  const auto step = [&](int position) -> absl::Status {
    std::vector<StepSequence> sequences(batch);
    for (int b = 0; b < batch; ++b) {
      if (!cache.Resize(tables[b], position + 1)) {
        return absl::ResourceExhaustedError("KV pool too small");
      }
      sequences[b] = {static_cast<std::size_t>(b), 1, position, tables[b].blocks()};
      tokens[b] = (position * 31 + b * 7) % s.vocab;
      rows[b] = b;
    }
    backend.Embed(head.matrix(0), tokens, *x);
    backend.RopeTables(inv_freq, sequences, *cos, *sin);
    for (int l = 0; l < s.layers; ++l) {
      const bool streamed = streamer != nullptr && static_cast<std::size_t>(l) >= first_streamed;
      if (streamed) {
        if (absl::Status status = streamer->Acquire(l - first_streamed); !status.ok()) {
          streamer->FinishStep();
          return status;
        }
      }
      layer(l, sequences);
      if (streamed) streamer->Release(l - first_streamed);
    }
    return backend.Logits(*x, *r, rows, head.vector(2), 1e-5f, head.matrix(1), *normed, logits);
  };

  for (int p = 0; p < warmup; ++p) {
    if (absl::Status status = step(p); !status.ok()) return status;
  }
  const auto start = std::chrono::steady_clock::now();
  for (int p = warmup; p < warmup + steps; ++p) {
    if (absl::Status status = step(p); !status.ok()) return status;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / steps;
}

}  // namespace

absl::StatusOr<std::vector<GpuDecodeResult>> RunGpuDecode(const std::string& format,
                                                          const std::vector<int>& budget_percents,
                                                          const std::vector<int>& batches,
                                                          int steps, bool quick) {
  DeviceModel model;
  model.shape =
      quick ? Shape{256, 12, 8, 2, 32, 512, 1024} : Shape{4096, 32, 32, 8, 128, 14336, 128256};
  const Shape& s = model.shape;
  const bool ternary = format != "bf16";
  absl::StatusOr<std::shared_ptr<Backend>> made = NewBackend({.device = Device::kCuda});
  if (!made.ok()) return made.status();
  Backend& backend = **made;
  std::mt19937 rng(7);
  const int q_dim = s.heads * s.head_dim, kv_dim = s.kv_heads * s.head_dim;
  const RandomMatrix wq = MakeMatrix(q_dim, s.hidden, ternary, rng);
  const RandomMatrix wk = MakeMatrix(kv_dim, s.hidden, ternary, rng);
  const RandomMatrix wo = MakeMatrix(s.hidden, q_dim, ternary, rng);
  const RandomMatrix wup = MakeMatrix(s.inner, s.hidden, ternary, rng);
  const RandomMatrix wdown = MakeMatrix(s.hidden, s.inner, ternary, rng);
  // Embeddings and head stay bf16, as the compressor leaves them.
  const RandomMatrix embed = MakeMatrix(s.vocab, s.hidden, false, rng);

  std::vector<std::size_t> layer_bytes;
  for (int l = 0; l < s.layers; ++l) {
    std::vector<UnitTensorSource> tensors;
    for (const char* norm : {"ln1", "ln2"}) {
      UnitTensorSource v;
      v.name = norm;
      v.values = Ones(s.hidden);
      tensors.push_back(std::move(v));
    }
    tensors.push_back(wq.Source("q"));
    tensors.push_back(wk.Source("k"));
    tensors.push_back(wk.Source("v"));
    tensors.push_back(wo.Source("o"));
    tensors.push_back(wup.Source("gate"));
    tensors.push_back(wup.Source("up"));
    tensors.push_back(wdown.Source("down"));
    absl::StatusOr<std::unique_ptr<WeightUnit>> unit = backend.NewWeightUnit(std::move(tensors));
    if (!unit.ok()) return unit.status();
    model.weight_bytes_per_step += (*unit)->weight_bytes();
    layer_bytes.push_back((*unit)->bytes());
    model.layers.push_back(*std::move(unit));
  }
  std::vector<UnitTensorSource> top;
  top.push_back(embed.Source("embed"));
  top.push_back(embed.Source("head"));
  UnitTensorSource final_norm;
  final_norm.name = "norm";
  final_norm.values = Ones(s.hidden);
  top.push_back(std::move(final_norm));
  absl::StatusOr<std::unique_ptr<WeightUnit>> head_unit = backend.NewWeightUnit(std::move(top));
  if (!head_unit.ok()) return head_unit.status();
  model.head = *std::move(head_unit);
  // A decode step reads the head whole and one embedding row per token.
  model.weight_bytes_per_step += static_cast<double>(s.vocab) * s.hidden * 2;
  std::size_t decoder_bytes = 0;
  for (std::size_t bytes : layer_bytes) decoder_bytes += bytes;

  std::vector<GpuDecodeResult> results;
  for (int percent : budget_percents) {
    constexpr int kSlots = 2;
    std::unique_ptr<LayerStreamer> streamer;
    std::size_t first_streamed = layer_bytes.size();
    if (percent < 100) {
      absl::StatusOr<WeightPlan> plan = PlanWeights(
          model.head->bytes(), layer_bytes,
          static_cast<std::int64_t>(model.head->bytes() + decoder_bytes * percent / 100), kSlots,
          kLayerSlotAlignment);
      if (!plan.ok()) return plan.status();
      first_streamed = plan->resident_layers;
      LayerStreamSource source;
      source.first_streamed = first_streamed;
      std::vector<WeightUnit*> streamed;
      for (std::size_t l = 0; l < model.layers.size(); ++l) {
        source.units.push_back(model.layers[l].get());
        if (l >= first_streamed) streamed.push_back(model.layers[l].get());
      }
      absl::StatusOr<std::unique_ptr<LayerTransport>> transport = backend.NewLayerTransport(source);
      if (!transport.ok()) return transport.status();
      absl::StatusOr<std::unique_ptr<LayerStreamer>> made_streamer =
          LayerStreamer::Create(std::move(streamed), *std::move(transport), kSlots);
      if (!made_streamer.ok()) return made_streamer.status();
      streamer = *std::move(made_streamer);
    }
    for (int batch : batches) {
      const StreamStats before = streamer != nullptr ? streamer->stats() : StreamStats{};
      absl::StatusOr<double> seconds =
          TimeDecode(backend, model, batch, steps, streamer.get(), first_streamed);
      if (!seconds.ok()) return seconds.status();
      const StreamStats after = streamer != nullptr ? streamer->stats() : StreamStats{};
      GpuDecodeResult& r = results.emplace_back();
      r.format = ternary ? "ternary-2bit" : "bf16";
      r.batch = batch;
      r.weight_budget_percent = percent;
      r.step_seconds = *seconds;
      r.tokens_per_second = batch / *seconds;
      r.weight_bytes_per_step = model.weight_bytes_per_step;
      r.gbps = model.weight_bytes_per_step / *seconds / 1e9;
      if (streamer != nullptr) {
        r.streamed_layers = static_cast<int>(streamer->layer_count());
        r.stream_bytes_per_step = static_cast<double>(streamer->bytes_per_step());
        r.stream_gbps = r.stream_bytes_per_step / *seconds / 1e9;
        r.copy_seconds = after.copy_seconds - before.copy_seconds;
        r.wait_seconds = after.wait_seconds - before.wait_seconds;
      }
    }
    // The units go back to their own device bytes for the next budget.
    streamer.reset();
    for (std::size_t l = first_streamed; l < model.layers.size(); ++l) {
      model.layers[l]->Rebind(nullptr);
    }
  }
  return results;
}

}  // namespace ghost::bench
