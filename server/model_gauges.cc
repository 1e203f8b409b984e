#include "server/model_gauges.h"

#include <algorithm>
#include <memory>
#include <string>

namespace ghost::server {
namespace {

prometheus::MetricFamily Gauges(const char* name, const char* help) {
  return prometheus::MetricFamily{name, help, prometheus::MetricType::Gauge, {}};
}

prometheus::MetricFamily Counters(const char* name, const char* help) {
  return prometheus::MetricFamily{name, help, prometheus::MetricType::Counter, {}};
}

// The labels every per-model series carries: model_name and device ("cpu", "cuda:0").
using ModelLabels = std::vector<prometheus::ClientMetric::Label>;

void Add(prometheus::MetricFamily& family, const ModelLabels& model, double value,
         std::vector<prometheus::ClientMetric::Label> extra = {}) {
  prometheus::ClientMetric metric;
  metric.label = model;
  for (auto& label : extra) metric.label.push_back(std::move(label));
  // Sorted by name, as the registry's own series are.
  std::sort(metric.label.begin(), metric.label.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  if (family.type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
}

}  // namespace

std::vector<prometheus::MetricFamily> ModelGaugeCollector::Collect() const {
  prometheus::MetricFamily waiting =
      Gauges("ghost_num_requests_waiting", "Requests queued for a place in the running batch.");
  prometheus::MetricFamily kv_usage =
      Gauges("ghost_kv_cache_usage_ratio", "Fraction of the KV cache's blocks in use.");
  prometheus::MetricFamily weight_bytes = Gauges(
      "ghost_model_weight_bytes", "Bytes of weights the forward pass reads, by stored format.");
  prometheus::MetricFamily sparsity =
      Gauges("ghost_model_sparsity_ratio",
             "MLP sparsity: kind=removed_neurons (neurons removed by compression), "
             "kind=gated_activations (activations the gates zeroed since load).");
  prometheus::MetricFamily resident =
      Gauges("ghost_model_resident_bytes",
             "Bytes of weights a model keeps in memory (layer streaming slots included).");
  prometheus::MetricFamily stream_bytes = Counters(
      "ghost_stream_bytes_total", "Bytes of streamed decoder layers copied into their slots.");
  prometheus::MetricFamily copy_seconds =
      Counters("ghost_stream_copy_seconds_total", "Seconds the layer copy worker spent copying.");
  prometheus::MetricFamily wait_seconds =
      Counters("ghost_stream_wait_seconds_total",
               "Seconds the forward waited for a streamed layer's slot to be filled.");
  prometheus::MetricFamily overlap =
      Gauges("ghost_stream_overlap_ratio",
             "Share of layer copy time hidden behind compute since load: 1 - wait / copy seconds.");
  for (const ModelInfo& info : registry_->List()) {
    if (info.state != ModelState::kReady) continue;
    absl::StatusOr<std::shared_ptr<LoadedModel>> loaded = registry_->GetReady(info.name);
    if (!loaded.ok()) continue;
    const ModelLabels model{{"model_name", info.name}, {"device", info.device}};
    const ExecutorStats stats = (*loaded)->executor->stats();
    const ModelSummary& summary = (*loaded)->model->summary();
    Add(waiting, model, stats.num_waiting);
    Add(kv_usage, model, stats.kv_cache_usage);
    Add(weight_bytes, model, static_cast<double>(summary.weight_bytes),
        {{"format", summary.dtype}});
    Add(sparsity, model, summary.removed_neuron_fraction, {{"kind", "removed_neurons"}});
    const double gated = static_cast<double>(stats.mlp_activity.total);
    Add(sparsity, model, gated == 0 ? 0.0 : 1.0 - stats.mlp_activity.active / gated,
        {{"kind", "gated_activations"}});
    Add(resident, model, static_cast<double>(summary.resident_weight_bytes));
    if (const LayerStreamer* streamer = (*loaded)->model->layer_streamer(); streamer != nullptr) {
      const StreamStats stream = streamer->stats();
      Add(stream_bytes, model, static_cast<double>(stream.bytes));
      Add(copy_seconds, model, stream.copy_seconds);
      Add(wait_seconds, model, stream.wait_seconds);
      Add(overlap, model, StreamOverlapRatio(stream));
    }
  }
  return {waiting,      kv_usage,     weight_bytes, sparsity, resident,
          stream_bytes, copy_seconds, wait_seconds, overlap};
}

}  // namespace ghost::server
