// The huge-page allocation behind HugePageAllocator.
#include "kernels/cpu/huge_page_allocator.h"

#include <sys/mman.h>

#include <cstdlib>

namespace ghost::kernels {
namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

}  // namespace

void* AllocateHugePages(std::size_t bytes) {
  if (bytes < kHugePage) {
    void* p = std::malloc(bytes == 0 ? 1 : bytes);
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
