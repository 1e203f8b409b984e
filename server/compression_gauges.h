// ghost_compression_jobs{state}: compression jobs by state, read from the job manager at
// scrape time.
#ifndef GHOST_SERVER_COMPRESSION_GAUGES_H_
#define GHOST_SERVER_COMPRESSION_GAUGES_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

#include "engine/jobs/job_manager.h"

namespace ghost::server {

class CompressionJobCollector final : public prometheus::Collectable {
 public:
  // `jobs` must outlive every Collect() call (the server drops this collector first).
  explicit CompressionJobCollector(const jobs::CompressJobManager* jobs) : jobs_(jobs) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const jobs::CompressJobManager* jobs_;
};

}  // namespace ghost::server

#endif  // GHOST_SERVER_COMPRESSION_GAUGES_H_
