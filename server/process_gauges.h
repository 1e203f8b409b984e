// The process's own resource use in the names Prometheus client libraries share
// (process_resident_memory_bytes, process_virtual_memory_bytes, process_cpu_seconds_total,
// process_open_fds), read from /proc/self at scrape time; prometheus-cpp exports none of them.
// On a system without /proc the families are left out rather than reported as zero.
#ifndef GHOST_SERVER_PROCESS_GAUGES_H_
#define GHOST_SERVER_PROCESS_GAUGES_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

namespace ghost::server {

class ProcessCollector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_PROCESS_GAUGES_H_
