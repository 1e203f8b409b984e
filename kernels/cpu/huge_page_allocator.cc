// The huge-page allocation behind HugePageAllocator.
#include "kernels/cpu/huge_page_allocator.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>

namespace ghost::kernels {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

}  // namespace

void* AllocateHugePages(std::size_t bytes) {
  if (bytes < kHugePage) {
    // 64-byte aligned, so that weights placed at 64-byte offsets start on a cache line.
    void* p = std::aligned_alloc(64, std::max<std::size_t>((bytes + 63) / 64 * 64, 64));
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  const std::size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* p = std::aligned_alloc(kHugePage, rounded);
  if (p == nullptr) throw std::bad_alloc();
  // Advice only: without THP the weights still work, with 4 KiB pages.
  madvise(p, rounded, MADV_HUGEPAGE);
  return p;
}

void FreeHugePages(void* p, std::size_t) { std::free(p); }

}  // namespace ghost::kernels
