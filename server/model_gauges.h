// Gauges read from the models at scrape time rather than pushed: requests waiting, KV-cache
// usage, weight bytes and sparsity of every loaded model (ghost_num_requests_waiting,
// ghost_kv_cache_usage_ratio, ghost_model_weight_bytes{format}, ghost_model_sparsity_ratio).
#ifndef GHOST_SERVER_MODEL_GAUGES_H_
#define GHOST_SERVER_MODEL_GAUGES_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

#include "engine/registry/registry.h"

namespace ghost::server {

class ModelGaugeCollector final : public prometheus::Collectable {
 public:
  // `registry` must outlive every Collect() call (the server unregisters this first).
  explicit ModelGaugeCollector(const ModelRegistry* registry) : registry_(registry) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const ModelRegistry* registry_;
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_MODEL_GAUGES_H_
