// Run-time AMX detection: the CPU's feature bits and Linux's permission to use tile data.
// Compiled without ISA flags: it only asks, so it runs on every x86-64 CPU.
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu/matmul.h"

namespace ghost::kernels {
namespace {

// Linux's arch_prctl codes (asm/prctl.h) and the XSAVE component of the tile data: a
// process must ask for that component before its threads touch a tile register, since
// the kernel enlarges every thread's signal frame for it (Linux 5.16 and later).
constexpr int kArchGetXcompPerm = 0x1022;
constexpr int kArchReqXcompPerm = 0x1023;
constexpr unsigned long kXfeatureTileData = 18;

bool CpuHasAmx() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  // The kernels also use AVX-512 (BW, VL, BF16) around the tiles; every AMX CPU has them.
  return __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-int8") &&
         __builtin_cpu_supports("amx-bf16") && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

// Granted for the whole process (threads started before and after alike).
bool OsGrantsTileData() {
#if defined(__linux__) && defined(__x86_64__)
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureTileData) != 0) return false;
  unsigned long granted = 0;
  if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &granted) != 0) return false;
  return (granted >> kXfeatureTileData) & 1;
#else
  return false;
#endif
}

bool DisabledByEnvironment() {
  const char* value = std::getenv("GHOST_DISABLE_AMX");
  return value != nullptr && value[0] != '\0' && std::strcmp(value, "0") != 0;
}

std::atomic<bool>& EnabledFlag() {
  static std::atomic<bool> enabled{AmxSupported() && !DisabledByEnvironment()};
  return enabled;
}

}  // namespace

bool AmxSupported() {
  static const bool supported = CpuHasAmx() && OsGrantsTileData();
  return supported;
}

bool AmxEnabled() { return EnabledFlag().load(std::memory_order_relaxed); }

void SetAmxEnabled(bool enabled) {
  EnabledFlag().store(enabled && AmxSupported(), std::memory_order_relaxed);
}

}  // namespace ghost::kernels
