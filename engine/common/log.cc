#include "engine/common/log.h"

#include <cstdio>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ghost {
namespace {

void Log(char severity, std::string_view message) {
  const std::string now =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  // One FPrintF call per line so concurrent lines do not interleave.
  absl::FPrintF(stderr, "%c %s ghost-engine] %s\n", severity, now, message);
}

}  // namespace

void LogInfo(std::string_view message) { Log('I', message); }
void LogWarning(std::string_view message) { Log('W', message); }

}  // namespace ghost
