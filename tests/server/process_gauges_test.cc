// process_* gauges: read from /proc/self, they follow the process's own memory and descriptors,
// and the server exports them on /metrics.
#include "server/process_gauges.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/server/test_util.h"

namespace ghost::testing {
namespace {

std::map<std::string, double> CollectValues() {
  std::map<std::string, double> values;
  for (const prometheus::MetricFamily& family : server::ProcessCollector().Collect()) {
    EXPECT_EQ(family.metric.size(), 1u) << family.name;
    const prometheus::ClientMetric& metric = family.metric.front();
    values[family.name] =
        family.type == prometheus::MetricType::Counter ? metric.counter.value : metric.gauge.value;
  }
  return values;
}

TEST(ProcessCollectorTest, ResidentMemoryFollowsTouchedAllocation) {
  const double before = CollectValues().at("process_resident_memory_bytes");
  constexpr std::size_t kBytes = 64 << 20;
  auto block = std::make_unique<char[]>(kBytes);
  std::memset(block.get(), 1, kBytes);
  const std::map<std::string, double> after = CollectValues();
  EXPECT_GE(after.at("process_resident_memory_bytes") - before, kBytes / 2);
  EXPECT_GE(after.at("process_virtual_memory_bytes"), after.at("process_resident_memory_bytes"));
  EXPECT_GE(after.at("process_cpu_seconds_total"), 0);
  EXPECT_EQ(block[kBytes - 1], 1);
}

TEST(ProcessCollectorTest, OpenFdsCountsADescriptorOpenedHere) {
  const double before = CollectValues().at("process_open_fds");
  const int fd = open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(CollectValues().at("process_open_fds"), before + 1);
  close(fd);
  EXPECT_EQ(CollectValues().at("process_open_fds"), before);
}

TEST(ProcessCollectorTest, ServerExportsThem) {
  auto server = StartTestServer(TestServerOptions());
  ASSERT_NE(server, nullptr);
  const std::string scrape = HttpGet(server->metrics_port(), "/metrics");
  // The test binary is the server's process: it holds at least ghost-tiny's 11 MiB of weights.
  EXPECT_GT(MetricValue(scrape, "process_resident_memory_bytes"), 11 << 20) << scrape;
  EXPECT_GT(MetricValue(scrape, "process_open_fds"), 0) << scrape;
  EXPECT_NE(scrape.find("# TYPE process_cpu_seconds_total counter"), std::string::npos);
}

}  // namespace
}  // namespace ghost::testing
