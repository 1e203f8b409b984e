// The read loop of the memory benchmarks: the bandwidth pass that every ratio divides by
// (memory_bandwidth.cc) and the span reads behind ghostbench sparse's read ceiling
// (span_read.cc). Both load through this one routine, with the widest vectors the CPU has:
// on the 2-core Zen 5 VM 16-byte loads read 10-25% slower than 32- or 64-byte ones (each
// line takes four loads, and fewer lines fit in flight), which understated the bandwidth
// and so overstated every kernel's ratio.
#ifndef GHOST_BENCH_READ_BYTES_H_
#define GHOST_BENCH_READ_BYTES_H_

#include <cstddef>
#include <cstdint>

namespace ghost::bench {

// Loads every byte of [data, data + bytes) once and returns a value that depends on all of
// them, so that the loads cannot be optimized away.
std::uint64_t ReadBytes(const void* data, std::size_t bytes);

}  // namespace ghost::bench

#endif  // GHOST_BENCH_READ_BYTES_H_
