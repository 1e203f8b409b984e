// Software prefetch: for rows the hardware prefetchers cannot predict (the sparse MLP's
// scattered active rows), and far ahead in streams they do not run far enough ahead in.
#ifndef GHOST_KERNELS_CPU_PREFETCH_H_
#define GHOST_KERNELS_CPU_PREFETCH_H_

#include <cstddef>
#include <cstdint>

namespace ghost::kernels::internal {
namespace {  // Internal linkage: each ISA file gets its own copy (see matmul_avx2.cc).

// Asks for the cache line holding p (prefetcht0). An asm statement, not __builtin_prefetch:
// GCC 12's dead-code elimination deleted whole __builtin_prefetch loops from the low-bit
// kernels at -O2 and -O3 (seen in the disassembly; scattered rows then waited for memory
// one at a time, 2x slower than reading every row), and it never deletes an asm volatile.
inline void PrefetchLine(const void* p) {
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
}

// Asks for the cache line at `address` in the L2 cache (prefetcht1), for streams read far
// ahead. An address rather than a pointer: such a prefetch may point past the end of its
// buffer, which a prefetch allows (it never faults) and pointer arithmetic does not.
inline void PrefetchL2(std::uintptr_t address) { asm volatile("prefetcht1 (%0)" : : "r"(address)); }

// Asks for [p, p + bytes) in cache ahead of use.
inline void PrefetchBytes(const void* p, std::size_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (std::size_t offset = 0; offset < bytes; offset += 64) PrefetchLine(c + offset);
}

}  // namespace
}  // namespace ghost::kernels::internal

#endif  // GHOST_KERNELS_CPU_PREFETCH_H_
