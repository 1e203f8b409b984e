#include "server/compression_gauges.h"

namespace ghost::server {

std::vector<prometheus::MetricFamily> CompressionJobCollector::Collect() const {
  prometheus::MetricFamily family{"ghost_compression_jobs",
                                  "Compression jobs known to the server, by state.",
                                  prometheus::MetricType::Gauge,
                                  {}};
  const jobs::JobCounts counts = jobs_->CountByState();
  // Every state is exported, zeros included, so that dashboards see the series from the start.
  for (jobs::JobState state : jobs::kAllJobStates) {
    prometheus::ClientMetric metric;
    metric.label.push_back({"state", jobs::JobStateName(state)});
    metric.gauge.value = counts[static_cast<size_t>(state)];
    family.metric.push_back(std::move(metric));
  }
  return {family};
}

}  // namespace ghost::server
