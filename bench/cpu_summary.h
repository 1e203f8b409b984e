// What a benchmark table needs to be compared across machines: the CPU's model name, the
// instruction sets our kernels use on it, and its int8 dot-product peak (the compute roofline of
// the low-bit products at n > 1), measured with every pool thread.
#ifndef GHOST_BENCH_CPU_SUMMARY_H_
#define GHOST_BENCH_CPU_SUMMARY_H_

#include <string>

namespace ghost::bench {

// /proc/cpuinfo's "model name", or "unknown CPU".
std::string CpuModelName();

// The kernels' variant and the extensions it uses here, e.g. "avx512 +vnni +vbmi".
std::string KernelIsaFlags();

struct Int8DotPeak {
  std::string instruction;  // e.g. "vpdpbusd zmm"; empty where no SIMD int8 path exists
  double macs_per_s = 0;    // int8 multiply-adds per second, all threads
  int threads = 0;
};

// Independent chains of the widest int8 dot-product instruction the CPU has (vpdpbusd with
// AVX-512 VNNI or AVX-VNNI, else vpmaddubsw + vpmaddwd with AVX2), in registers, for about
// `seconds` on every pool thread: the fastest loop's rate in thread CPU time (immune to other
// tenants taking a core away for a while), times the threads.
Int8DotPeak MeasureInt8DotPeak(double seconds);

}  // namespace ghost::bench

#endif  // GHOST_BENCH_CPU_SUMMARY_H_
