// Run-time AMX detection: the CPU's feature bits and Linux's permission to use tile data.
// Compiled without ISA flags: it only asks, so it runs on every x86-64 CPU.
#if defined(__x86_64__)
#include <cpuid.h>
#endif
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
  // CPUID leaf 7 directly: not every compiler's __builtin_cpu_supports knows the AMX names.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  const bool amx = (edx >> 22 & 1) && (edx >> 24 & 1) && (edx >> 25 & 1);  // BF16, TILE, INT8
  unsigned eax1 = 0, ebx1 = 0, ecx1 = 0, edx1 = 0;
  const bool avx512_bf16 = __get_cpuid_count(7, 1, &eax1, &ebx1, &ecx1, &edx1) && (eax1 >> 5 & 1);
  // The kernels also use AVX-512 (BW, VL, BF16) around the tiles; every AMX CPU has them.
  __builtin_cpu_init();
  return amx && avx512_bf16 && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
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
