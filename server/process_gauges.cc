#include "server/process_gauges.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>

namespace ghost::server {
namespace {

prometheus::MetricFamily OneValue(const char* name, const char* help, prometheus::MetricType type,
                                  double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return prometheus::MetricFamily{name, help, type, {std::move(metric)}};
}

// Entries of /proc/self/fd, less the one opendir holds while counting; -1 without /proc.
int CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int entries = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++entries;
  }
  closedir(dir);
  return entries - 1;
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  std::vector<prometheus::MetricFamily> families;
  const double page_bytes = static_cast<double>(sysconf(_SC_PAGESIZE));
  // statm: total program size and resident set, in pages.
  double size_pages = 0;
  double resident_pages = 0;
  if (std::ifstream statm("/proc/self/statm"); statm >> size_pages >> resident_pages) {
    families.push_back(OneValue("process_resident_memory_bytes", "Resident memory size in bytes.",
                                prometheus::MetricType::Gauge, resident_pages * page_bytes));
    families.push_back(OneValue("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                                prometheus::MetricType::Gauge, size_pages * page_bytes));
  }
  // stat: fields 14 and 15 are user and system time in clock ticks. Field 2 (the command name,
  // in parentheses) may hold spaces, so parsing starts after its closing parenthesis.
  std::ifstream stat_file("/proc/self/stat");
  const std::string stat((std::istreambuf_iterator<char>(stat_file)),
                         std::istreambuf_iterator<char>());
  if (const std::size_t name_end = stat.rfind(')'); name_end != std::string::npos) {
    std::istringstream fields(stat.substr(name_end + 1));
    std::string skipped;
    for (int field = 3; field <= 13; ++field) fields >> skipped;
    double user_ticks = 0;
    double system_ticks = 0;
    if (fields >> user_ticks >> system_ticks) {
      const double ticks_per_second = static_cast<double>(sysconf(_SC_CLK_TCK));
      families.push_back(OneValue(
          "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
          prometheus::MetricType::Counter, (user_ticks + system_ticks) / ticks_per_second));
    }
  }
  if (const int fds = CountOpenFds(); fds >= 0) {
    families.push_back(OneValue("process_open_fds", "Number of open file descriptors.",
                                prometheus::MetricType::Gauge, fds));
  }
  return families;
}

}  // namespace ghost::server
