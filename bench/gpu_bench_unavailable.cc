// ghostbench gpu in a build without nvcc: says so, as JSON with --json, and exits 0 as it does
// on a machine without a device.
#include <cstdio>
#include <cstring>

#include "bench/subcommands.h"

namespace ghost::bench {

int RunGpu(int argc, char** argv) {
  const char* why = "no device: this ghostbench was built without CUDA (nvcc not found)";
  const bool json = argc > 0 && std::strcmp(argv[0], "--json") == 0;
  if (json) {
    std::printf("{\n  \"skipped\": \"%s\"\n}\n", why);
  } else {
    std::printf("%s\n", why);
  }
  return 0;
}

}  // namespace ghost::bench
